"""The gradebook end to end against the demo LMS, over HTTP through the test router: deep-linked and
tool-created line items, the worker's hook posting the scores, the demo gradebook showing them, and the
coordinator's gradebook page with its access checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.cli_xapi import make_worker
from lti_tool.content import get_content
from lti_tool.db import sessionmaker_for, utcnow
from lti_tool.lti import keys
from lti_tool.models import DemoLineItem, DemoScore, ScoreOutbox
from lti_tool.models.gradebook import QUEUED, SENT
from lti_tool.services import gradebook
from tests.conftest import LMS_URL, TOOL_URL
from tests.functional.test_demo_lms import browse_launch, first_link_id, posted_form, register_real_tool
from tests.functional.test_player import Learner, best, worst

DB = Callable[[], AbstractContextManager[Session]]
SLUG = "five-stages"
LEARNER, OTHER_LEARNER, COORDINATOR = "u-1001", "u-1002", "u-2001"


@pytest.fixture
def course(client: FlaskClient, app: Flask, db: DB) -> None:
    register_real_tool(client, app)
    with db() as session:
        keys.ensure_keys(session)  # committed first: see tests/functional/test_nrps_client.py
    client.get("/demo-lms/")  # creates the course-home placement


def deep_link(client: FlaskClient, slug: str) -> int:
    """Add a module by deep linking as the coordinator; return the new placement's id."""
    home = browse_launch(client, f"/demo-lms/deep-link?user={COORDINATOR}")
    picker = client.get(home.headers["Location"], base_url=TOOL_URL).get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', picker)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', picker)
    assert action and csrf
    chosen = client.post(unescape(action.group(1)), base_url=TOOL_URL,
                         data={"csrf_token": csrf.group(1), "modules": slug})
    return_url, fields = posted_form(chosen)
    assert client.post(return_url, data=fields).status_code == 200
    placed = re.findall(r"/demo-lms/launch/(\d+)", client.get("/demo-lms/").get_data(as_text=True))
    return max(int(n) for n in placed)


class DemoLearner(Learner):
    """A learner launched from a demo LMS placement, playing ``slug``."""

    def __init__(self, client: FlaskClient, user: str, link_id: int, slug: str = SLUG) -> None:
        self.client, self.module = client, get_content().modules[slug]
        answer = browse_launch(client, f"/demo-lms/launch/{link_id}?user={user}")
        assert answer.status_code == 303, answer.get_data(as_text=True)
        sid = answer.headers["Location"].split("/")[2]
        self.sid = sid
        self.base = f"/app/{sid}/play/{slug}"
        self.page = client.get(self.base + "/", base_url=TOOL_URL)


def run_worker_hook(app: Flask) -> None:
    """Run the delivery worker's pre-cycle hook once, as ``upstander worker`` does before each cycle."""
    worker = make_worker(app)
    try:
        assert worker.hook is not None
        with sessionmaker_for(app).begin() as session:
            worker.hook(session, utcnow())
    finally:
        worker.close()


def test_a_deep_linked_module_score_reaches_the_demo_gradebook(course: None, client: FlaskClient, app: Flask,
                                                               db: DB) -> None:
    link_id = deep_link(client, SLUG)
    DemoLearner(client, LEARNER, link_id).walk(best)
    with db() as session:
        item = session.scalars(select(DemoLineItem)).one()
        row = session.scalars(select(ScoreOutbox)).one()
        assert row.status == QUEUED
        assert row.lineitem_url == f"{LMS_URL}/demo-lms/api/contexts/demo-course/lineitems/{item.id}"
    run_worker_hook(app)
    with db() as session:
        row = session.scalars(select(ScoreOutbox)).one()
        score = session.scalars(select(DemoScore)).one()
        assert (row.status, row.response_status) == (SENT, 200)
        assert (score.user_id, score.score_given, score.score_maximum) == (LEARNER, 100, 100)
        assert (score.activity_progress, score.grading_progress) == ("Completed", "FullyGraded")
        assert abs(score.timestamp - row.timestamp) < timedelta(milliseconds=1)
    page = client.get("/demo-lms/").get_data(as_text=True)
    grid = page.split("<h3>Every score post received</h3>")[0]
    maria = re.search(r'<th scope="row">Maria Alvarez</th>(.*?)</tr>', grid, re.S)
    assert maria and "100 / 100" in maria.group(1) and "FullyGraded" in maria.group(1)
    assert row.timestamp.strftime("%Y-%m-%d %H:%M:%S") in maria.group(1)
    assert "attempt 1 scored 100%" in page  # the comment, in the list of posts


def test_a_course_home_play_gets_a_column_created(course: None, client: FlaskClient, app: Flask, db: DB) -> None:
    home = first_link_id(db)
    learner = DemoLearner(client, LEARNER, home)
    learner.walk(best)
    DemoLearner(client, OTHER_LEARNER, home).walk(worst)
    run_worker_hook(app)
    with db() as session:
        item = session.scalars(select(DemoLineItem)).one()
        assert (item.resource_id, item.tag, item.link_id) == (SLUG, gradebook.LINE_ITEM_TAG, None)
        assert item.label == learner.module.title
        got = {s.user_id: s.score_given for s in session.scalars(select(DemoScore))}
        assert got[LEARNER] == 100 and got[OTHER_LEARNER] < 100
        assert {r.status for r in session.scalars(select(ScoreOutbox))} == {SENT}


def launch_sid(client: FlaskClient, db: DB, user: str) -> str:
    answer = browse_launch(client, f"/demo-lms/launch/{first_link_id(db)}?user={user}")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return answer.headers["Location"].split("/")[2]


def test_the_coordinator_sees_every_score_and_the_lms_answer(course: None, client: FlaskClient, app: Flask,
                                                             db: DB) -> None:
    link_id = deep_link(client, SLUG)
    DemoLearner(client, LEARNER, link_id).walk(best)
    DemoLearner(client, OTHER_LEARNER, link_id).walk(worst)
    run_worker_hook(app)
    with db() as session:
        # One refused score, to see its answer on the page.
        row = session.scalars(select(ScoreOutbox).where(ScoreOutbox.user_sub == OTHER_LEARNER)).one()
        row.status, row.response_status, row.response_body = "dead", 400, '{"detail": "refused for the test"}'
    sid = launch_sid(client, db, COORDINATOR)
    start = client.get(f"/app/{sid}/dashboard/gradebook", base_url=TOOL_URL)
    assert start.status_code == 302
    page = client.get(start.headers["Location"], base_url=TOOL_URL)
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert "Maria Alvarez" in html and "James Okafor" in html
    assert "HTTP 200" in html and "HTTP 400" in html and "refused for the test" in html
    assert "/demo-lms/api/contexts/demo-course/lineitems/" in html
    dead_only = client.get(start.headers["Location"] + "?status=dead", base_url=TOOL_URL).get_data(as_text=True)
    assert "James Okafor" in dead_only and "Maria Alvarez" not in dead_only
    assert client.get(start.headers["Location"] + "?status=bogus", base_url=TOOL_URL).status_code == 400
    assert "Maria Alvarez" in client.get(start.headers["Location"] + "?status=", base_url=TOOL_URL).text


def test_refused_scores_can_be_sent_again(course: None, client: FlaskClient, app: Flask, db: DB) -> None:
    link_id = deep_link(client, SLUG)
    DemoLearner(client, LEARNER, link_id).walk(best)
    with db() as session:
        row = session.scalars(select(ScoreOutbox)).one()
        row.status, row.attempts, row.last_error = "dead", 1, "HTTP 403 while the registration was broken"
    sid = launch_sid(client, db, COORDINATOR)
    page_url = client.get(f"/app/{sid}/dashboard/gradebook", base_url=TOOL_URL).headers["Location"]
    page = client.get(page_url, base_url=TOOL_URL).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf and "send the refused scores again" in page
    retry_url = page_url + "/retry"
    assert client.post(retry_url, base_url=TOOL_URL, data={"csrf_token": "forged"}).status_code in (400, 403)
    done = client.post(retry_url, base_url=TOOL_URL, data={"csrf_token": csrf.group(1)})
    assert done.status_code == 303
    assert "1 refused score(s) queued again" in client.get(done.headers["Location"], base_url=TOOL_URL).text
    run_worker_hook(app)
    with db() as session:
        assert session.scalars(select(ScoreOutbox)).one().status == SENT
        assert session.scalars(select(DemoScore)).one().user_id == LEARNER


def test_learners_and_other_courses_are_refused(course: None, client: FlaskClient, db: DB, app: Flask) -> None:
    learner_sid = launch_sid(client, db, LEARNER)
    assert client.get(f"/app/{learner_sid}/dashboard/gradebook", base_url=TOOL_URL).status_code == 403
    sid = launch_sid(client, db, COORDINATOR)
    location = client.get(f"/app/{sid}/dashboard/gradebook", base_url=TOOL_URL).headers["Location"]
    found = re.search(r"/dashboard/(\d+)/gradebook", location)
    assert found
    cid = int(found.group(1))
    assert client.get(f"/app/{sid}/dashboard/{cid + 1}/gradebook", base_url=TOOL_URL).status_code == 404
    assert client.get(f"/app/{learner_sid}/dashboard/{cid}/gradebook", base_url=TOOL_URL).status_code == 403
    stranger = app.test_client()  # another browser, without the session cookie
    assert stranger.get(location, base_url=TOOL_URL).status_code == 401
