"""Every crossing into a dashboard that is not one's own is refused: learner, other course, other deployment,
other platform, guessed ids in URLs (officers, waivers), no cookie, no CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.models import LtiContext, LtiUser, Waiver
from tests.conftest import TOOL_URL, Router
from tests.platform import INSTRUCTOR, FakePlatform, launch

DB = Callable[[], AbstractContextManager[Session]]
ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"


@dataclass
class Staff:
    """A coordinator's (or administrator's) browser after a launch: the session base URL and its CSRF token."""

    client: FlaskClient
    base: str
    csrf: str

    def get(self, path: str) -> Any:
        return self.client.get(self.base + path, base_url=TOOL_URL)

    def post(self, path: str, **data: Any) -> Any:
        return self.client.post(self.base + path, base_url=TOOL_URL, data={"csrf_token": self.csrf, **data})


def open_as(client: FlaskClient, platform: FakePlatform, role: str = INSTRUCTOR, **overrides: Any) -> Staff:
    """Launch, land, and return the browser's session (the landing page carries the CSRF token)."""
    response = launch(client, platform, role=role, **overrides)
    assert response.status_code == 303, response.text
    base = response.headers["Location"]
    page = client.get(base, base_url=TOOL_URL)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return Staff(client, base, csrf.group(1) if csrf else "")


def context_pk(db: DB, context_id: str, issuer: str = "https://lms.example.edu") -> int:
    with db() as session:
        found = session.scalars(select(LtiContext)).all()
        return next(x.id for x in found if x.context_id == context_id
                    and x.deployment_pk in _deployments(session, issuer))


def _deployments(session: Session, issuer: str) -> set[int]:
    from lti_tool.models import Deployment, Platform

    return set(session.scalars(select(Deployment.id).join(Platform).where(Platform.issuer == issuer)))


def user_pk(db: DB, sub: str) -> int:
    with db() as session:
        return session.scalars(select(LtiUser.id).where(LtiUser.sub == sub)).first() or 0


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform(deployments=("dep-1", "dep-2")).install(session, router)


COURSE_2 = {"id": "course-2", "title": "Night shift refresher", "label": "PBI-2"}


@pytest.fixture
def two_courses(client: FlaskClient, platform: FakePlatform, db: DB) -> dict[str, int]:
    """Course 1 and course 2 in dep-1, course 1 (same id) in dep-2, each with an officer who launched."""
    launch(client, platform, sub="officer-1", name="Officer One")
    launch(client, platform, sub="officer-2", name="Officer Two", **{c.CONTEXT: COURSE_2})
    launch(client, platform, sub="officer-3", name="Officer Three", **{c.DEPLOYMENT_ID: "dep-2"})
    with db() as session:
        rows = session.execute(select(LtiContext.id, LtiContext.context_id, LtiContext.deployment_pk)
                               .order_by(LtiContext.id)).all()
    return {"c1": rows[0][0], "c2": rows[1][0], "dep2_c1": rows[2][0]}


def test_a_learner_gets_the_403_page(client: FlaskClient, platform: FakePlatform, two_courses: dict[str, int]) -> None:
    learner = open_as(client, platform, role="http://purl.imsglobal.org/vocab/lis/v2/membership#Learner")
    for path in (f"dashboard/{two_courses['c1']}/", f"dashboard/{two_courses['c1']}/officers", "dashboard/",
                 "dashboard/courses", f"dashboard/{two_courses['c1']}/audit"):
        response = learner.get(path)
        assert response.status_code == 403, path
        assert "text/html" in response.content_type and "training coordinators" in response.text
    assert learner.post(f"dashboard/{two_courses['c1']}/requirements", **{"recert_months-five-stages": "6"}
                        ).status_code == 403


def test_a_coordinator_sees_only_their_own_course(client: FlaskClient, platform: FakePlatform,
                                                  two_courses: dict[str, int]) -> None:
    coordinator = open_as(client, platform, sub="coord-1", name="Coordinator One")
    assert coordinator.get(f"dashboard/{two_courses['c1']}/").status_code == 200
    assert "Officer One" in coordinator.get(f"dashboard/{two_courses['c1']}/officers").text
    for cid in (two_courses["c2"], two_courses["dep2_c1"], 999_999):
        for path in ("/", "/officers", "/requirements", "/waivers", "/audit", "/policy"):
            assert coordinator.get(f"dashboard/{cid}{path}").status_code == 404, (cid, path)
        assert coordinator.post(f"dashboard/{cid}/roster/sync").status_code == 404
    courses = coordinator.get("dashboard/courses").text
    assert "Annual refresher" in courses and "Night shift refresher" not in courses


def test_an_administrator_sees_every_course_of_their_deployment_only(
        client: FlaskClient, platform: FakePlatform, two_courses: dict[str, int], db: DB, router: Router) -> None:
    admin = open_as(client, platform, role=ADMIN, sub="admin-1", name="Admin One")
    assert "Training coordinator — Annual refresher" in admin.get("").text
    courses = admin.get("dashboard/courses").text
    assert "Annual refresher" in courses and "Night shift refresher" in courses
    assert "Officer Two" in admin.get(f"dashboard/{two_courses['c2']}/officers").text
    assert admin.get(f"dashboard/{two_courses['dep2_c1']}/").status_code == 404
    with db() as session:
        other = FakePlatform(issuer="https://other-lms.example", kid="other-key").install(session, router)
    launch(client, other, sub="officer-x")
    foreign = context_pk(db, "course-1", issuer="https://other-lms.example")
    assert admin.get(f"dashboard/{foreign}/officers").status_code == 404


def test_an_administrator_launch_without_a_course_gets_the_picker(client: FlaskClient, platform: FakePlatform,
                                                                   two_courses: dict[str, int]) -> None:
    admin = open_as(client, platform, role=ADMIN, sub="admin-1", **{c.CONTEXT: None})
    response = admin.get("dashboard/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/dashboard/courses")
    assert "Night shift refresher" in admin.get("dashboard/courses").text


def test_guessed_officer_and_waiver_ids_are_refused(client: FlaskClient, platform: FakePlatform, db: DB,
                                                    two_courses: dict[str, int]) -> None:
    c1, c2 = two_courses["c1"], two_courses["c2"]
    other_admin = open_as(client, platform, role=ADMIN, sub="admin-1")
    officer_two = user_pk(db, "officer-2")
    assert other_admin.post(f"dashboard/{c2}/waivers", officer=officer_two, module="five-stages",
                            reason="Academy course").status_code == 303
    with db() as session:
        waiver_id = session.scalars(select(Waiver.id)).one()
    coordinator = open_as(client, platform, sub="coord-1")
    assert coordinator.get(f"dashboard/{c1}/officers/{officer_two}").status_code == 404
    assert coordinator.get(f"dashboard/{c1}/officers/{user_pk(db, 'coord-1')}").status_code == 404  # not an officer
    assert coordinator.post(f"dashboard/{c1}/waivers", officer=officer_two, module="three-ds",
                            reason="Should not work").status_code == 404
    assert coordinator.post(f"dashboard/{c1}/waivers/{waiver_id}/revoke", reason="Should not work").status_code == 404
    assert coordinator.post(f"dashboard/{c2}/waivers/{waiver_id}/revoke", reason="Should not work").status_code == 404
    with db() as session:
        waivers = session.scalars(select(Waiver)).all()
        assert len(waivers) == 1 and waivers[0].revoked_at is None


def test_no_cookie_and_no_csrf_token_are_refused(client: FlaskClient, platform: FakePlatform,
                                                 two_courses: dict[str, int], app: Any) -> None:
    coordinator = open_as(client, platform, sub="coord-1")
    stranger = app.test_client()
    assert stranger.get(coordinator.base + f"dashboard/{two_courses['c1']}/", base_url=TOOL_URL).status_code == 401
    response = client.post(coordinator.base + f"dashboard/{two_courses['c1']}/requirements", base_url=TOOL_URL,
                           data={"recert_months-five-stages": "6"})
    assert response.status_code == 400 and "csrf_invalid" in response.text
