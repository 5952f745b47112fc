"""Where officers struggle: the SQL aggregates match the decisions recorded, for one course's learners only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.content import DecisionScreen, get_content
from lti_tool.lti import claims as c
from lti_tool.models import Attempt, DecisionRecord, LtiContext, LtiUser, ModuleRegistration
from lti_tool.services import analytics
from tests.conftest import TOOL_URL, Router
from tests.functional.test_player import Learner, best, worst
from tests.platform import FakePlatform, launch

DB = Callable[[], AbstractContextManager[Session]]


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)


def middle(screen: DecisionScreen) -> str:
    return sorted(screen.choices, key=lambda ch: ch.points)[len(screen.choices) // 2].id


@pytest.fixture
def played(client: FlaskClient, platform: FakePlatform) -> None:
    Learner(client, platform, "three-ds", sub="officer-a").walk(best)
    Learner(client, platform, "three-ds", sub="officer-b").walk(worst)
    Learner(client, platform, "role-play-force-and-rank", sub="officer-b").walk(middle)
    # A learner of another course only: never counted in course-1.
    OtherCourseLearner(client, platform, "three-ds", sub="elsewhere").walk(worst)


class OtherCourseLearner(Learner):
    """A learner launched from course-2."""

    def __init__(self, client: FlaskClient, platform: FakePlatform, slug: str, sub: str) -> None:
        self.client, self.module = client, get_content().modules[slug]
        response = launch(client, platform, sub=sub, **{c.CUSTOM: {"module": slug}, c.CONTEXT: {"id": "course-2"}})
        self.base = client.get(response.headers["Location"], base_url=TOOL_URL).headers["Location"].rstrip("/")
        self.page = client.get(self.base + "/", base_url=TOOL_URL)


def _course(session: Session, context_id: str = "course-1") -> int:
    return session.scalars(select(LtiContext.id).where(LtiContext.context_id == context_id)).one()


def _recorded(session: Session, module: str | None = None) -> list[DecisionRecord]:
    query = (select(DecisionRecord).join(Attempt, Attempt.id == DecisionRecord.attempt_pk)
             .join(ModuleRegistration, ModuleRegistration.id == Attempt.registration_pk)
             .join(LtiUser, LtiUser.id == ModuleRegistration.user_pk).where(LtiUser.sub != "elsewhere"))
    if module:
        query = query.where(ModuleRegistration.module == module)
    return list(session.scalars(query))


@pytest.mark.usefixtures("played")
@pytest.mark.parametrize("module", [None, "three-ds"])
def test_success_per_stage_tactic_and_rank_matches_the_decisions(app: Flask, db: DB, module: str | None) -> None:
    with app.app_context(), db() as session:
        data = analytics.struggles(session, _course(session), module)
        recorded = _recorded(session, module)
    assert recorded
    for rows, attribute in ((data.by_stage, "stage"), (data.by_tactic, "tactic"), (data.by_rank, "rank")):
        for row in rows:
            mine = [d for d in recorded if str(getattr(d, attribute)) == row.key]
            assert row.answers == len(mine), (attribute, row.key)
            assert row.best == sum(1 for d in mine if d.points >= d.max_points), (attribute, row.key)
            assert (row.points, row.max_points) == (sum(d.points for d in mine), sum(d.max_points for d in mine))
    assert [r.key for r in data.by_stage] == ["1", "2", "3", "4", "5"]
    assert sum(r.answers for r in data.by_tactic) == sum(1 for d in recorded if d.tactic)
    finished = {s.finished for s in data.by_stage if s.finished}
    assert finished  # every stage result of a finished attempt is counted once
    if module is None:
        assert any(r.answers for r in data.by_rank if r.key == "superior")


@pytest.mark.usefixtures("played")
def test_the_choice_distribution_names_each_choice_from_the_content(app: Flask, db: DB) -> None:
    with app.app_context(), db() as session:
        found = analytics.decisions(session, _course(session), "three-ds")
        recorded = _recorded(session, "three-ds")
    module = get_content().modules["three-ds"]
    counts = Counter((d.screen, d.choice) for d in recorded)
    assert {d.screen for d in found} == {screen for screen, _ in counts}
    order = [s.id for s in module.screens]
    assert [d.screen for d in found] == sorted((d.screen for d in found), key=order.index)
    for decision in found:
        screen = module.screen(decision.screen)
        assert isinstance(screen, DecisionScreen)
        assert [ch.choice for ch in decision.choices] == [ch.id for ch in screen.choices]
        assert [ch.text for ch in decision.choices] == [ch.text for ch in screen.choices]
        assert [ch.count for ch in decision.choices] == [counts[(screen.id, ch.id)] for ch in screen.choices]
        assert decision.answers == sum(ch.count for ch in decision.choices)
        top = max(ch.points for ch in screen.choices)
        assert [ch.best for ch in decision.choices] == [ch.points == top for ch in screen.choices]


@pytest.mark.usefixtures("played")
def test_another_course_sees_only_its_own_learners(app: Flask, db: DB) -> None:
    with app.app_context(), db() as session:
        other = analytics.struggles(session, _course(session, "course-2"))
    assert sum(r.answers for r in other.by_stage) > 0
    assert all(r.best_percent in (None, 0.0) or r.best < r.answers for r in other.by_stage)
    assert {d.module for d in other.decisions} == {"three-ds"}
