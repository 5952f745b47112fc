"""Roles, landing pages, deep linking, CSRF, and the walls between platforms and deployments."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.models import LtiContext, LtiUser, ResourceLink
from tests.conftest import TOOL_URL, Router
from tests.platform import INSTRUCTOR, FakePlatform, launch

DB = Callable[[], AbstractContextManager[Session]]
DL_SETTINGS = {"deep_link_return_url": "https://lms.example.edu/dl/return", "accept_types": ["ltiResourceLink"],
               "accept_multiple": True, "data": "opaque-123"}


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)


def _open(client: FlaskClient, response: Any) -> Any:
    assert response.status_code == 303, response.text
    return client.get(response.headers["Location"], base_url=TOOL_URL)


def test_instructor_lands_on_the_coordinator_page_with_the_course_people(client: FlaskClient,
                                                                        platform: FakePlatform) -> None:
    _open(client, launch(client, platform))  # a learner launches first
    page = _open(client, launch(client, platform, role=INSTRUCTOR, sub="coord-1", name="Sgt. Lee Morgan"))
    assert "Training coordinator — Annual refresher" in page.text and "Sgt. Lee Morgan" in page.text
    # The landing page is the course's dashboard; its officers page lists the learner.
    officers = re.search(r'href="([^"]+/officers)"', page.text)
    assert officers is not None
    assert "Officer Pat Doe" in client.get(officers.group(1), base_url=TOOL_URL).text


@pytest.mark.parametrize(("roles", "expected"), [
    (["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"], "Training coordinator"),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper"], "Training coordinator"),
    (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"], "Training coordinator"),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"], "Welcome"),
    (["urn:example:unknown-role"], "Welcome"),
    ([], "Welcome"),
])
def test_roles_map_to_pages(roles: list[str], expected: str, client: FlaskClient, platform: FakePlatform) -> None:
    page = _open(client, launch(client, platform, **{c.ROLES: roles}))
    assert expected in page.text


def test_a_session_needs_its_own_cookie(app: Flask, client: FlaskClient, platform: FakePlatform) -> None:
    location = launch(client, platform).headers["Location"]
    stranger = app.test_client()
    response = stranger.get(location, base_url=TOOL_URL)
    assert response.status_code == 401
    assert "session_missing" in response.text


def test_two_launches_in_one_browser_keep_separate_sessions(client: FlaskClient, platform: FakePlatform) -> None:
    learner = launch(client, platform).headers["Location"]
    coordinator = launch(client, platform, role=INSTRUCTOR, sub="coord-1").headers["Location"]
    assert "Welcome" in client.get(learner, base_url=TOOL_URL).text
    assert "Training coordinator" in client.get(coordinator, base_url=TOOL_URL).text


def test_deep_linking_returns_a_signed_response_with_chosen_modules(client: FlaskClient,
                                                                    platform: FakePlatform) -> None:
    response = launch(client, platform, role=INSTRUCTOR, **{
        c.MESSAGE_TYPE: c.DEEP_LINKING_REQUEST, c.RESOURCE_LINK: None, c.DEEP_LINKING_SETTINGS: DL_SETTINGS})
    picker = _open(client, response)
    assert "Add Upstander modules" in picker.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', picker.text)
    assert csrf is not None
    action = response.headers["Location"] + "deep-link"
    answer = client.post(action, base_url=TOOL_URL, data={
        "csrf_token": csrf.group(1), "modules": ["five-stages", "three-ds"]})
    assert answer.status_code == 200
    assert 'action="https://lms.example.edu/dl/return"' in answer.text
    token = re.search(r'name="JWT" value="([^"]+)"', answer.text)
    assert token is not None
    keys = client.get("/lti/jwks", base_url=TOOL_URL).json
    claims = jwt.decode(token.group(1), KeySet.import_key_set(keys), algorithms=["RS256"]).claims
    assert claims["iss"] == "client-1" and claims["aud"] == ["https://lms.example.edu"]
    assert claims[c.MESSAGE_TYPE] == c.DEEP_LINKING_RESPONSE and claims[c.DEPLOYMENT_ID] == "dep-1"
    assert claims[c.DL_DATA] == "opaque-123"
    items = claims[c.DL_CONTENT_ITEMS]
    assert [i["custom"]["module"] for i in items] == ["five-stages", "three-ds"]
    assert all(i["type"] == "ltiResourceLink" and i["lineItem"]["scoreMaximum"] == 100 for i in items)


def test_deep_linking_form_needs_csrf_and_a_known_module(client: FlaskClient, platform: FakePlatform) -> None:
    response = launch(client, platform, role=INSTRUCTOR, **{
        c.MESSAGE_TYPE: c.DEEP_LINKING_REQUEST, c.RESOURCE_LINK: None, c.DEEP_LINKING_SETTINGS: DL_SETTINGS})
    picker = _open(client, response)
    action = response.headers["Location"] + "deep-link"
    no_csrf = client.post(action, base_url=TOOL_URL, data={"modules": ["five-stages"]})
    assert no_csrf.status_code == 400 and "csrf_invalid" in no_csrf.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', picker.text)
    assert csrf is not None
    unknown = client.post(action, base_url=TOOL_URL, data={"csrf_token": csrf.group(1), "modules": ["nope"]})
    assert unknown.status_code == 400


def test_learner_cannot_deep_link(client: FlaskClient, platform: FakePlatform) -> None:
    response = launch(client, platform, **{
        c.MESSAGE_TYPE: c.DEEP_LINKING_REQUEST, c.RESOURCE_LINK: None, c.DEEP_LINKING_SETTINGS: DL_SETTINGS})
    assert _open(client, response).status_code == 403


def test_same_ids_from_two_platforms_stay_apart(client: FlaskClient, platform: FakePlatform, router: Router,
                                                db: DB) -> None:
    with db() as session:
        other = FakePlatform(issuer="https://other-lms.example", kid="other-key").install(session, router)
    _open(client, launch(client, platform, name="Officer From A"))
    page = _open(client, launch(client, other, role=INSTRUCTOR, sub="coord-b", name="Coordinator B"))
    # Same sub, context id and link id on both platforms, but B's coordinator sees only B's people.
    assert "Coordinator B" in page.text
    assert "Officer From A" not in page.text
    with db() as session:
        assert session.scalar(select(func.count()).select_from(LtiUser)) == 2
        assert session.scalar(select(func.count()).select_from(LtiContext)) == 2
        assert session.scalar(select(func.count()).select_from(ResourceLink)) == 2


def test_same_ids_in_two_deployments_stay_apart(client: FlaskClient, router: Router, db: DB) -> None:
    with db() as session:
        multi = FakePlatform(deployments=("dep-a", "dep-b")).install(session, router)
    _open(client, launch(client, multi, name="Officer In A", **{c.DEPLOYMENT_ID: "dep-a"}))
    page = _open(client, launch(client, multi, role=INSTRUCTOR, sub="c", name="Coord In B",
                                **{c.DEPLOYMENT_ID: "dep-b"}))
    assert "Officer In A" not in page.text
    with db() as session:
        assert session.scalar(select(func.count()).select_from(LtiContext)) == 2


def test_a_second_launch_updates_rather_than_duplicates(client: FlaskClient, platform: FakePlatform,
                                                        db: DB) -> None:
    _open(client, launch(client, platform, name="Old Name"))
    _open(client, launch(client, platform, name="New Name"))
    with db() as session:
        users = session.scalars(select(LtiUser)).all()
        assert [u.name for u in users] == ["New Name"]
