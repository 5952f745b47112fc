"""The tool's NRPS client against the demo LMS (over the test router), and its refusals."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.demo import roster
from lti_tool.lti import claims as c
from lti_tool.lti import keys, nrps
from lti_tool.lti.service_token import ServiceError, TokenCache
from lti_tool.models import Deployment, LtiContext
from tests.conftest import LMS_URL, Router
from tests.functional.test_demo_lms import browse_launch, first_link_id, register_real_tool

DB = Callable[[], AbstractContextManager[Session]]
MEMBERSHIPS = LMS_URL + "/demo-lms/api/contexts/demo-course/memberships"


@pytest.fixture
def registered(client: FlaskClient, app: Flask, db: DB) -> None:
    register_real_tool(client, app)
    # The tool's keys exist before a test's session signs with them: on SQLite a session that has
    # written holds the lock, and the demo LMS (same database) could not store the token it issues.
    with db() as session:
        keys.ensure_keys(session)


def _deployment(session: Session) -> Deployment:
    return session.scalars(select(Deployment)).one()


def test_fetch_members_follows_every_page(registered: None, db: DB, app: Flask, router: Router) -> None:
    cache = TokenCache()
    with db() as session:
        members = nrps.fetch_members(session, app.extensions["upstander.http"], _deployment(session),
                                     MEMBERSHIPS + "?limit=2", cache=cache)
    assert [m.user_id for m in members] == [p.user_id for p in roster.ROSTER]
    pages = [r for r in router.calls if str(r.url).startswith(MEMBERSHIPS)]
    assert len(pages) == 3  # six members, two a page
    assert cache.requests == 1  # one token for all three pages
    first = members[0]
    assert (first.name, first.given_name, first.family_name) == ("Maria Alvarez", "Maria", "Alvarez")
    assert first.email == "maria.alvarez@demo-agency.example"
    assert first.roles == (roster.LEARNER,) and first.status == nrps.ACTIVE


def test_role_filter_is_sent(registered: None, db: DB, app: Flask) -> None:
    with db() as session:
        members = nrps.fetch_members(session, app.extensions["upstander.http"], _deployment(session),
                                     MEMBERSHIPS, role="Learner", cache=TokenCache())
    assert [m.user_id for m in members] == [p.user_id for p in roster.learners()]


def test_a_launch_stores_the_memberships_url(registered: None, client: FlaskClient, db: DB) -> None:
    client.get("/demo-lms/")
    browse_launch(client, f"/demo-lms/launch/{first_link_id(db)}?user=u-1001")
    with db() as session:
        context = session.scalars(select(LtiContext)).one()
        assert context.memberships_url == MEMBERSHIPS
        assert nrps.memberships_url(context) == MEMBERSHIPS


def test_memberships_url_falls_back_to_the_stored_claim() -> None:
    context = LtiContext(context_id="c", services={c.NRPS: {"context_memberships_url": "https://lms/m"}})
    assert nrps.memberships_url(context) == "https://lms/m"
    assert nrps.memberships_url(LtiContext(context_id="c", services={})) is None


def _serve(router: Router, url: str, handler: Callable[[httpx.Request], httpx.Response]) -> None:
    router.routes[url] = handler


def test_statuses_and_missing_fields_are_read(registered: None, db: DB, app: Flask, router: Router) -> None:
    url = "http://other-lms.test/members"
    body = {"members": [{"user_id": "a", "status": "Inactive", "roles": ["x"]},
                        {"user_id": "b", "status": "Deleted"}, {"user_id": "c", "status": "Weird"}]}
    _serve(router, url, lambda request: httpx.Response(200, json=body))
    with db() as session:
        members = nrps.fetch_members(session, app.extensions["upstander.http"], _deployment(session), url,
                                     cache=TokenCache())
    assert [(m.user_id, m.status, m.name) for m in members] == [
        ("a", nrps.INACTIVE, ""), ("b", nrps.DELETED, ""), ("c", nrps.ACTIVE, "")]


def test_a_looping_next_link_is_refused(registered: None, db: DB, app: Flask, router: Router) -> None:
    url = "http://other-lms.test/members"
    _serve(router, url, lambda request: httpx.Response(200, json={"members": []},
                                                       headers={"Link": f'<{url}>; rel="next"'}))
    with db() as session, pytest.raises(ServiceError, match="does not end"):
        nrps.fetch_members(session, app.extensions["upstander.http"], _deployment(session), url,
                           cache=TokenCache())


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (403, False), (404, False)])
def test_platform_refusals_raise(registered: None, db: DB, app: Flask, router: Router, status: int,
                                 retryable: bool) -> None:
    url = "http://other-lms.test/members"
    _serve(router, url, lambda request: httpx.Response(status, text="nope"))
    with db() as session, pytest.raises(ServiceError) as caught:
        nrps.fetch_members(session, app.extensions["upstander.http"], _deployment(session), url,
                           cache=TokenCache())
    assert caught.value.status == status and caught.value.retryable is retryable
    assert caught.value.body == "nope"
