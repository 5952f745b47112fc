"""Gradebook scores: queued with the finish, sent by the worker's sender with retries, dead letters,
token refresh and line item creation, against a scriptable fake LMS served through the test router."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.db import sessionmaker_for, utcnow
from lti_tool.lti import claims as c
from lti_tool.lti import keys
from lti_tool.lti.service_token import TokenCache
from lti_tool.models import Attempt, ResourceLink, ScoreOutbox
from lti_tool.models.gradebook import DEAD, QUEUED, SENT, SUPERSEDED
from lti_tool.services import gradebook
from lti_tool.services.gradebook_delivery import MAX_ATTEMPTS, Sender
from tests.conftest import TOOL_URL, Router
from tests.functional.test_player import Learner, best, worst
from tests.platform import FakePlatform, launch

DB = Callable[[], AbstractContextManager[Session]]
ISSUER = "https://lms.example.edu"
LINEITEMS = ISSUER + "/ctx/lineitems"
LINEITEM = LINEITEMS + "/7"
SLUG = "five-stages"
ALL_SCOPES = [c.SCOPE_LINEITEM, c.SCOPE_SCORE, c.SCOPE_RESULT_READONLY]


class FakeLms:
    """Token endpoint and AGS endpoints whose answers a test scripts."""

    def __init__(self, router: Router) -> None:
        self.tokens: list[str] = []
        self.revoked: set[str] = set()
        self.scores: list[tuple[str, dict[str, Any]]] = []  # (URL, body) of every score post that got a 2xx
        self.score_answers: list[Callable[[], httpx.Response]] = []  # consumed first, then 200
        self.score_posts = 0
        self.items: list[dict[str, Any]] = [{"id": LINEITEM, "label": "Five stages", "scoreMaximum": 100}]
        self.creates = 0
        router.routes[ISSUER + "/token"] = self._token
        router.routes[LINEITEMS] = self._lineitems

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        assert form["grant_type"] == ["client_credentials"] and form["client_assertion"]
        self.tokens.append(f"token-{len(self.tokens) + 1}")
        return httpx.Response(200, json={"access_token": self.tokens[-1], "token_type": "Bearer",
                                         "expires_in": 3600, "scope": form["scope"][0]})

    def _authorized(self, request: httpx.Request) -> bool:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return token in self.tokens and token not in self.revoked

    def _lineitems(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return httpx.Response(401)
        path = urlsplit(str(request.url)).path
        if path.endswith("/scores"):
            return self._score(request)
        if request.method == "POST":
            self.creates += 1
            item = {**json.loads(request.content), "id": f"{LINEITEMS}/{100 + self.creates}"}
            self.items.append(item)
            return httpx.Response(201, json=item)
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        found = [i for i in self.items if all(i.get(_AGS_FILTERS[k], "") == v for k, v in query.items())]
        return httpx.Response(200, json=found)

    def _score(self, request: httpx.Request) -> httpx.Response:
        self.score_posts += 1
        if self.score_answers:
            return self.score_answers.pop(0)()
        self.scores.append((str(request.url), json.loads(request.content)))
        return httpx.Response(200, json={"resultUrl": "r"})


_AGS_FILTERS = {"resource_link_id": "resourceLinkId", "resource_id": "resourceId", "tag": "tag"}


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        keys.ensure_keys(session)
        return FakePlatform(issuer=ISSUER).install(session, router)


@pytest.fixture
def lms(router: Router) -> FakeLms:
    return FakeLms(router)


@pytest.fixture
def sender(app: Flask) -> Sender:
    return Sender(sessionmaker_for(app), app.extensions["upstander.http"], cache=TokenCache())


def ags_claim(lineitem: str | None = LINEITEM, scopes: list[str] | None = None) -> dict[str, Any]:
    claim: dict[str, Any] = {"scope": ALL_SCOPES if scopes is None else scopes, "lineitems": LINEITEMS}
    if lineitem:
        claim["lineitem"] = lineitem
    return claim


class GradedLearner(Learner):
    """A learner launched on a module placement whose launch carries the AGS claim."""

    def __init__(self, client: FlaskClient, platform: FakePlatform, ags: dict[str, Any] | None,
                 sub: str = "user-1", link: str = "link-1") -> None:
        from lti_tool.content import get_content

        self.client, self.module = client, get_content().modules[SLUG]
        extra: dict[str, Any] = {c.CUSTOM: {"module": SLUG}, c.RESOURCE_LINK: {"id": link, "title": "Module"}}
        if ags is not None:
            extra[c.AGS_ENDPOINT] = ags
        response = launch(client, platform, sub=sub, **extra)
        home = client.get(response.headers["Location"], base_url=TOOL_URL)
        self.base = home.headers["Location"].rstrip("/")
        self.page = client.get(self.base + "/", base_url=TOOL_URL)


def rows(db: DB) -> list[ScoreOutbox]:
    with db() as session:
        return list(session.scalars(select(ScoreOutbox).order_by(ScoreOutbox.id)))


# --- Queued with the finish ------------------------------------------------------------------------------


def test_finishing_queues_one_score_with_the_attempt(client: FlaskClient, platform: FakePlatform, db: DB,
                                                     lms: FakeLms) -> None:
    GradedLearner(client, platform, ags_claim()).walk(best)
    [row] = rows(db)
    with db() as session:
        attempt = session.scalars(select(Attempt)).one()
        assert row.attempt_pk == attempt.id and row.timestamp == attempt.completed_at
    assert (row.status, row.score_given, row.score_maximum) == (QUEUED, 100.0, 100.0)
    assert (row.user_sub, row.module, row.lineitem_url) == ("user-1", SLUG, LINEITEM)
    assert "attempt 1 scored 100%" in row.comment and "(passed)" in row.comment
    assert lms.score_posts == 0  # nothing over HTTP in the request


def test_a_launch_stores_the_ags_endpoints_on_the_placement(client: FlaskClient, platform: FakePlatform,
                                                             db: DB) -> None:
    GradedLearner(client, platform, ags_claim())
    with db() as session:
        link = session.scalars(select(ResourceLink)).one()
        assert (link.lineitem_url, link.lineitems_url, link.ags_scopes) == (LINEITEM, LINEITEMS, ALL_SCOPES)


def test_a_failing_finish_queues_nothing(client: FlaskClient, platform: FakePlatform, db: DB,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    learner = GradedLearner(client, platform, ags_claim())
    real = gradebook.queue_score

    def queue_then_fail(*args: Any, **kwargs: Any) -> Any:
        assert real(*args, **kwargs) is not None  # the row was written in the request's transaction ...
        raise RuntimeError("the finish fails after queueing")

    monkeypatch.setattr(gradebook, "queue_score", queue_then_fail)
    with pytest.raises(RuntimeError, match="after queueing"):
        learner.walk(best)
    assert rows(db) == []  # ... and rolled back with it
    with db() as session:
        assert session.scalars(select(Attempt)).one().completed_at is None


@pytest.mark.parametrize("ags", [None, ags_claim(scopes=[c.SCOPE_LINEITEM]), ags_claim(None, [c.SCOPE_SCORE])])
def test_nothing_is_queued_when_the_platform_allows_no_score(client: FlaskClient, platform: FakePlatform, db: DB,
                                                            ags: dict[str, Any] | None) -> None:
    GradedLearner(client, platform, ags).walk(best)
    assert rows(db) == []


def test_each_attempt_posts_the_best_score_so_far(client: FlaskClient, platform: FakePlatform, db: DB,
                                                  lms: FakeLms, sender: Sender) -> None:
    learner = GradedLearner(client, platform, ags_claim())
    learner.walk(best)
    learner.walk(worst)
    first, second = rows(db)
    assert (first.score_given, second.score_given) == (100.0, 100.0)
    assert "attempt 2 scored" in second.comment and "best 100%" in second.comment
    assert sender.deliver_due() == 2
    assert [body["scoreGiven"] for _, body in lms.scores] == [100.0, 100.0]


# --- The sender -----------------------------------------------------------------------------------------------


def test_sender_posts_a_fully_graded_score(client: FlaskClient, platform: FakePlatform, db: DB, lms: FakeLms,
                                           sender: Sender) -> None:
    GradedLearner(client, platform, ags_claim()).walk(worst)
    assert sender.deliver_due() == 1
    [(url, body)] = lms.scores
    [row] = rows(db)
    assert url == LINEITEM + "/scores"
    assert body["userId"] == "user-1" and body["scoreMaximum"] == 100.0 and body["scoreGiven"] == row.score_given
    assert (body["activityProgress"], body["gradingProgress"]) == ("Completed", "FullyGraded")
    assert body["timestamp"] == row.timestamp.isoformat(timespec="milliseconds")
    assert (row.status, row.attempts, row.response_status, row.claim_token) == (SENT, 1, 200, None)
    assert row.sent_at is not None and row.response_body == '{"resultUrl":"r"}'
    assert sender.deliver_due() == 0 and len(lms.scores) == 1  # exactly once


@pytest.mark.parametrize("failure", [
    lambda: httpx.Response(503, text="maintenance"),
    lambda: (_ for _ in ()).throw(httpx.ReadTimeout("slow")),
])
def test_server_errors_and_timeouts_are_retried_later(client: FlaskClient, platform: FakePlatform, db: DB,
                                                      lms: FakeLms, sender: Sender,
                                                      failure: Callable[[], httpx.Response]) -> None:
    GradedLearner(client, platform, ags_claim()).walk(best)
    lms.score_answers.append(failure)
    sender.deliver_due()
    [row] = rows(db)
    assert (row.status, row.attempts, row.claim_token) == (QUEUED, 1, None)
    assert row.last_error and row.next_attempt_at > utcnow()
    assert sender.deliver_due() == 0  # not due yet: backing off
    assert sender.deliver_due(row.next_attempt_at + timedelta(seconds=1)) == 1
    [row] = rows(db)
    assert (row.status, row.attempts, len(lms.scores)) == (SENT, 2, 1)


def test_retry_after_is_honoured(client: FlaskClient, platform: FakePlatform, db: DB, lms: FakeLms,
                                 sender: Sender) -> None:
    GradedLearner(client, platform, ags_claim()).walk(best)
    lms.score_answers.append(lambda: httpx.Response(429, headers={"Retry-After": "900"}))
    before = utcnow()
    sender.deliver_due()
    [row] = rows(db)
    assert before + timedelta(seconds=899) <= row.next_attempt_at <= utcnow() + timedelta(seconds=901)


def test_retries_end_in_a_dead_letter(client: FlaskClient, platform: FakePlatform, db: DB, lms: FakeLms,
                                      sender: Sender) -> None:
    GradedLearner(client, platform, ags_claim()).walk(best)
    lms.score_answers.extend([lambda: httpx.Response(500)] * MAX_ATTEMPTS)
    far = utcnow()
    for _ in range(MAX_ATTEMPTS):
        far += timedelta(days=1)
        assert sender.deliver_due(far) == 1
    [row] = rows(db)
    assert (row.status, row.attempts, lms.score_posts) == (DEAD, MAX_ATTEMPTS, MAX_ATTEMPTS)


def test_a_refused_score_is_a_dead_letter_with_the_reason(client: FlaskClient, platform: FakePlatform, db: DB,
                                                          lms: FakeLms, sender: Sender) -> None:
    GradedLearner(client, platform, ags_claim()).walk(best)
    lms.score_answers.append(lambda: httpx.Response(400, json={"detail": "userId is not a member"}))
    sender.deliver_due()
    [row] = rows(db)
    assert (row.status, row.response_status, row.attempts) == (DEAD, 400, 1)
    assert "userId is not a member" in (row.response_body or "") and "400" in (row.last_error or "")
    assert sender.deliver_due(utcnow() + timedelta(days=30)) == 0 and lms.score_posts == 1


def test_a_revoked_token_is_replaced_once(client: FlaskClient, platform: FakePlatform, db: DB, lms: FakeLms,
                                          sender: Sender) -> None:
    learner = GradedLearner(client, platform, ags_claim())
    learner.walk(best)
    sender.deliver_due()
    assert lms.tokens == ["token-1"]  # cached for the next score
    lms.revoked.add("token-1")
    learner.walk(worst)
    sender.deliver_due()
    assert lms.tokens == ["token-1", "token-2"] and [r.status for r in rows(db)] == [SENT, SENT]


def test_a_second_401_is_a_dead_letter(client: FlaskClient, platform: FakePlatform, db: DB, lms: FakeLms,
                                       sender: Sender) -> None:
    GradedLearner(client, platform, ags_claim()).walk(best)
    lms.score_answers.extend([lambda: httpx.Response(401), lambda: httpx.Response(401)])
    sender.deliver_due()
    [row] = rows(db)
    assert (row.status, row.response_status, lms.score_posts, len(lms.tokens)) == (DEAD, 401, 2, 2)


def test_two_senders_never_post_the_same_score(client: FlaskClient, platform: FakePlatform, db: DB,
                                               lms: FakeLms, app: Flask) -> None:
    GradedLearner(client, platform, ags_claim()).walk(best)
    first, second = (Sender(sessionmaker_for(app), app.extensions["upstander.http"]) for _ in range(2))
    with sessionmaker_for(app).begin() as session:
        from lti_tool.services.gradebook_delivery import claim

        assert claim(session, first.token, utcnow()) == [rows(db)[0].id]
    assert second.deliver_due() == 0  # leased to the first
    first._deliver(rows(db)[0].id)
    assert second.deliver_due(utcnow() + timedelta(hours=1)) == 0  # sent: never again
    assert len(lms.scores) == 1


def test_queueing_twice_keeps_one_row(client: FlaskClient, platform: FakePlatform, db: DB, app: Flask) -> None:
    learner = GradedLearner(client, platform, ags_claim())
    learner.walk(best)
    from lti_tool.content import get_content
    from lti_tool.models import ToolSession

    with db() as session:
        attempt = session.scalars(select(Attempt)).one()
        via = session.scalars(select(ToolSession)).one()
        assert gradebook.queue_score(session, via, attempt, get_content().modules[SLUG]) is None
    assert len(rows(db)) == 1


def test_an_older_score_is_superseded_by_a_newer_one(client: FlaskClient, platform: FakePlatform, db: DB,
                                                     lms: FakeLms, sender: Sender) -> None:
    learner = GradedLearner(client, platform, ags_claim())
    learner.walk(best)
    lms.score_answers.append(lambda: httpx.Response(502))
    sender.deliver_due()  # the first attempt's score waits for a retry ...
    learner.walk(worst)
    sender.deliver_due()  # ... while the second's goes
    sender.deliver_due(utcnow() + timedelta(days=1))
    older, newer = rows(db)
    assert (older.status, newer.status) == (SUPERSEDED, SENT)
    assert len(lms.scores) == 1 and lms.score_posts == 2


# --- Line items ---------------------------------------------------------------------------------------------


def test_a_placement_without_a_column_gets_one_created_once(client: FlaskClient, platform: FakePlatform, db: DB,
                                                            lms: FakeLms, sender: Sender) -> None:
    learner = GradedLearner(client, platform, ags_claim(lineitem=None))
    learner.walk(best)
    assert rows(db)[0].lineitem_url is None
    sender.deliver_due()
    created = lms.items[-1]
    assert lms.creates == 1 and created["resourceId"] == SLUG and created["tag"] == gradebook.LINE_ITEM_TAG
    assert created["resourceLinkId"] == "link-1" and created["scoreMaximum"] == 100.0
    assert created["label"] == learner.module.title
    assert lms.scores[0][0] == created["id"] + "/scores"
    with db() as session:
        assert session.scalars(select(ResourceLink)).one().lineitem_url == created["id"]
    learner.walk(worst)
    sender.deliver_due()
    assert lms.creates == 1 and [url for url, _ in lms.scores] == [created["id"] + "/scores"] * 2


def test_an_existing_column_is_found_not_duplicated(client: FlaskClient, platform: FakePlatform, db: DB,
                                                    lms: FakeLms, sender: Sender) -> None:
    mine = {"id": LINEITEMS + "/55", "label": "x", "scoreMaximum": 100, "resourceId": SLUG,
            "tag": gradebook.LINE_ITEM_TAG, "resourceLinkId": "link-1"}
    lms.items.append(mine)
    GradedLearner(client, platform, ags_claim(lineitem=None)).walk(best)
    sender.deliver_due()
    assert lms.creates == 0 and lms.scores[0][0] == mine["id"] + "/scores"


def test_no_column_and_no_right_to_add_one_is_a_dead_letter(client: FlaskClient, platform: FakePlatform, db: DB,
                                                            lms: FakeLms, sender: Sender) -> None:
    GradedLearner(client, platform, ags_claim(lineitem=None)).walk(best)
    with db() as session:  # a later launch said the platform no longer lets the tool add columns
        session.scalars(select(ResourceLink)).one().ags_scopes = [c.SCOPE_SCORE]
    sender.deliver_due()
    [row] = rows(db)
    assert row.status == DEAD and "does not let the tool add one" in (row.last_error or "")
    assert lms.creates == 0 and lms.score_posts == 0
