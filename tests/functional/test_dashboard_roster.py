"""The roster from the demo LMS over NRPS: synced on a coordinator's landing and by ``upstander roster sync``;
never-launched officers are not started; members who leave are marked, not deleted; failures are shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import cli
from lti_tool.demo import roster
from lti_tool.lti import keys
from lti_tool.models import AuditEvent, LtiUser, Membership, RosterSync
from tests.conftest import LMS_URL, TOOL_URL, Router
from tests.functional.test_demo_lms import browse_launch, first_link_id, register_real_tool

DB = Callable[[], AbstractContextManager[Session]]
ISSUER = LMS_URL + "/demo-lms"
MEMBERSHIPS = LMS_URL + "/demo-lms/api/contexts/demo-course/memberships"
COORDINATOR = "u-2001"


@pytest.fixture
def registered(client: FlaskClient, app: Flask, db: DB) -> None:
    register_real_tool(client, app)
    # Keys exist before a request signs with them (on SQLite the demo LMS must be able to write meanwhile).
    with db() as session:
        keys.ensure_keys(session)
    client.get("/demo-lms/")


def land(client: FlaskClient, db: DB, user: str = COORDINATOR) -> tuple[str, str]:
    """Launch from the demo LMS course as ``user``; return the session base URL and the landing page."""
    answer = browse_launch(client, f"/demo-lms/launch/{first_link_id(db)}?user={user}")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    base = answer.headers["Location"]
    page = client.get(base, base_url=TOOL_URL)
    assert page.status_code == 200, page.text
    return base, page.text


def members(db: DB) -> dict[str, Membership]:
    with db() as session:
        rows = session.execute(select(LtiUser.sub, Membership).join(Membership, Membership.user_pk == LtiUser.id))
        return {row[0]: row[1] for row in rows}


def invoke(app: Flask, args: list[str]) -> Result:
    original = cli.create_app
    cli.create_app = lambda: app  # type: ignore[assignment]
    try:
        return CliRunner().invoke(cli.main, args)
    finally:
        cli.create_app = original  # type: ignore[assignment]


def nrps_calls(router: Router) -> int:
    return sum(1 for r in router.calls if str(r.url).startswith(MEMBERSHIPS))


def test_a_coordinator_landing_syncs_the_roster(registered: None, client: FlaskClient, db: DB,
                                                router: Router) -> None:
    base, page = land(client, db)
    assert "Roster read from the LMS" in page and "6 members" in page
    found = members(db)
    assert set(found) == {p.user_id for p in roster.ROSTER}
    never = next(p for p in roster.ROSTER if not p.launches)
    assert found[never.user_id].source == "nrps" and found[never.user_id].role == "learner"
    assert found[COORDINATOR].source == "launch" and found[COORDINATOR].role == "coordinator"
    officers = client.get(base + f"dashboard/{found[COORDINATOR].context_pk}/officers", base_url=TOOL_URL).text
    assert never.name in officers and "4 officers found" in officers
    assert "status-not_started" in officers
    calls = nrps_calls(router)
    land(client, db)  # a second landing within the sync interval does not ask the LMS again
    assert nrps_calls(router) == calls


def _serve_without(router: Router, missing: str, inactive: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        people = [{"user_id": p.user_id, "name": p.name, "roles": list(p.roles),
                   "status": "Inactive" if p.user_id == inactive else "Active"}
                  for p in roster.ROSTER if p.user_id != missing]
        return httpx.Response(200, json={"id": MEMBERSHIPS, "members": people},
                              headers={"Content-Type": "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"})

    router.routes[MEMBERSHIPS] = handler


def test_members_who_leave_are_marked_and_come_back(registered: None, client: FlaskClient, db: DB, app: Flask,
                                                    router: Router) -> None:
    land(client, db)
    _serve_without(router, missing="u-1002", inactive="u-1003")
    result = invoke(app, ["roster", "sync", "--issuer", ISSUER])
    assert result.exit_code == 0, result.output
    assert "5 members, 0 joined, 2 left" in result.output
    found = members(db)
    assert len(found) == 6  # nobody deleted
    assert not found["u-1002"].active and found["u-1002"].left_at is not None
    assert not found["u-1003"].active and found["u-1003"].left_at is not None
    assert found["u-1001"].active and found["u-1001"].left_at is None
    del router.routes[MEMBERSHIPS]
    result = invoke(app, ["roster", "sync", "--context", "demo-course"])
    assert "6 members, 2 joined, 0 left" in result.output
    back = members(db)
    assert back["u-1002"].active and back["u-1002"].left_at is None
    with db() as session:
        synced = [e.details for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "roster.synced"))]
    assert {"members": 5, "joined": 0, "left": 2} in synced and {"members": 6, "joined": 2, "left": 0} in synced


def test_a_left_member_who_launches_is_back(registered: None, client: FlaskClient, db: DB, app: Flask,
                                            router: Router) -> None:
    land(client, db)
    _serve_without(router, missing="u-1001", inactive="")
    invoke(app, ["roster", "sync"])
    assert not members(db)["u-1001"].active
    del router.routes[MEMBERSHIPS]
    browse_launch(client, f"/demo-lms/launch/{first_link_id(db)}?user=u-1001")
    assert members(db)["u-1001"].active and members(db)["u-1001"].left_at is None


def test_a_failing_lms_is_shown_not_fatal(registered: None, client: FlaskClient, db: DB, app: Flask,
                                         router: Router) -> None:
    router.routes[MEMBERSHIPS] = lambda request: httpx.Response(503, text="maintenance")
    base, page = land(client, db)
    assert "The LMS roster could not be read" in page
    found = members(db)
    assert set(found) == {COORDINATOR}  # only who launched
    with db() as session:
        sync = session.scalars(select(RosterSync)).one()
        assert not sync.ok and sync.synced_at is None and sync.error
    result = invoke(app, ["roster", "sync"])
    assert result.exit_code == 1 and "FAILED" in result.output
    del router.routes[MEMBERSHIPS]
    context_pk = found[COORDINATOR].context_pk
    page_csrf = client.get(base, base_url=TOOL_URL).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page_csrf)
    assert csrf is not None
    response = client.post(base + f"dashboard/{context_pk}/roster/sync", base_url=TOOL_URL,
                           data={"csrf_token": csrf.group(1)})
    assert response.status_code == 303
    assert len(members(db)) == 6


def test_roster_sync_names_no_course(app: Flask, db: DB) -> None:
    result = invoke(app, ["roster", "sync", "--issuer", "https://nowhere.example"])
    assert result.exit_code != 0 and "no course matches" in result.output
