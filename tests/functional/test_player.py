"""The module player over HTTP: a full walk, scoring per stage, resume, retry and tampered forms."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.content import DecisionScreen, EndScreen, Module, get_content, score
from lti_tool.lti import claims as c
from lti_tool.models import Attempt, DecisionRecord, ModuleRegistration
from tests.conftest import TOOL_URL, Router
from tests.platform import FakePlatform, launch

DB = Callable[[], AbstractContextManager[Session]]
Pick = Callable[[DecisionScreen], str]


def best(screen: DecisionScreen) -> str:
    return max(screen.choices, key=lambda ch: ch.points).id


def worst(screen: DecisionScreen) -> str:
    return min(screen.choices, key=lambda ch: ch.points).id


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)


class Learner:
    """A learner's browser in a module: reads the page's hidden fields and posts the forms."""

    def __init__(self, client: FlaskClient, platform: FakePlatform, slug: str, sub: str = "user-1") -> None:
        self.client, self.module = client, get_content().modules[slug]
        response = launch(client, platform, sub=sub, **{c.CUSTOM: {"module": slug}})
        home = client.get(response.headers["Location"], base_url=TOOL_URL)
        assert home.status_code == 303
        self.base = home.headers["Location"].rstrip("/")
        self.page = client.get(self.base + "/", base_url=TOOL_URL)

    def field(self, name: str, text: str | None = None) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', text or self.page.text)
        assert found is not None, f"no {name} on the page"
        return found.group(1)

    def post(self, action: str, **data: str) -> Any:
        form = {"csrf_token": self.field("csrf_token"), **data}
        response = self.client.post(f"{self.base}/{action}", data=form, base_url=TOOL_URL)
        if response.status_code == 303:
            self.page = self.client.get(response.headers["Location"], base_url=TOOL_URL)
        return response

    def step(self, pick: Pick) -> bool:
        """Take one step; return False at an ending."""
        screen = self.module.screen(self.field("screen"))
        attempt = self.field("attempt")
        if "Submit answer" in self.page.text:
            assert isinstance(screen, DecisionScreen)
            assert self.post("answer", screen=screen.id, attempt=attempt, choice=pick(screen)).status_code == 303
        else:
            assert self.post("continue", screen=screen.id, attempt=attempt).status_code == 303
        return "Your score by stage" not in self.page.text and ">Acknowledge</button>" not in self.page.text

    def walk(self, pick: Pick, steps: int = 200) -> None:
        assert self.post("start").status_code == 303
        for _ in range(steps):
            if not self.step(pick):
                return
        raise AssertionError("no ending reached")


def test_best_path_passes_with_every_stage_full(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    learner = Learner(client, platform, "five-stages")
    assert "<h1>The five stages of intervention</h1>" in learner.page.text
    assert ">Start</button>" in learner.page.text
    learner.walk(best)
    assert "Passed" in learner.page.text
    for stage in (1, 2, 3, 4, 5):
        assert re.search(rf"Stage {stage} — [^<]+</th><td>100%</td>", learner.page.text)
    with db() as session:
        attempt = session.scalars(select(Attempt)).one()
        assert attempt.completed_at is not None and attempt.passed is True and attempt.score == 1.0
        assert attempt.content_version == learner.module.version
        assert [r.scaled for r in attempt.stage_results] == [1.0] * 5
        reg = session.scalars(select(ModuleRegistration)).one()
        assert uuid.UUID(reg.registration).version == 4


def test_stage_scores_are_computed_as_the_content_says(client: FlaskClient, platform: FakePlatform,
                                                       db: DB) -> None:
    learner = Learner(client, platform, "three-ds")
    learner.walk(worst)
    assert "Not passed yet" in learner.page.text
    assert "What to review" in learner.page.text
    with db() as session:
        attempt = session.scalars(select(Attempt)).one()
        visits = [(d.screen, d.choice) for d in attempt.decisions]
        overall, stages = score(learner.module, visits)
        assert attempt.score == overall
        assert {r.stage: r.scaled for r in attempt.stage_results} == stages
        assert attempt.passed is (overall >= learner.module.mastery)


def test_replayed_or_tampered_answers_change_nothing(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    learner = Learner(client, platform, "five-stages")
    learner.post("start")
    while "Submit answer" not in learner.page.text:
        learner.step(best)
    screen = learner.module.screen(learner.field("screen"))
    assert isinstance(screen, DecisionScreen)
    form = {"screen": screen.id, "attempt": learner.field("attempt"), "choice": best(screen)}
    other = next(s for s in learner.module.screens if isinstance(s, DecisionScreen) and s.id != screen.id)
    foreign = learner.post("answer", **{**form, "choice": "no-such-choice"})
    assert foreign.status_code == 409
    wrong_screen = learner.post("answer", **{**form, "screen": other.id, "choice": other.choices[0].id})
    assert wrong_screen.status_code == 409
    assert learner.post("answer", **form).status_code == 303
    replay = learner.post("answer", **form)
    assert replay.status_code == 409
    assert "out of date" in replay.text
    with db() as session:
        assert session.scalar(select(func.count()).select_from(DecisionRecord)) == 1


def test_resume_after_relaunch_and_retry_keeps_every_attempt(client: FlaskClient, platform: FakePlatform,
                                                             db: DB) -> None:
    first = Learner(client, platform, "five-stages")
    first.post("start")
    for _ in range(3):
        first.step(best)
    where = first.field("screen")
    again = Learner(client, platform, "five-stages")  # a new launch: another device or tab
    assert ">Resume</button>" in again.page.text
    again.post("start")
    assert again.field("screen") == where
    while again.step(best):
        pass
    stale_attempt = "1"
    again.post("start")  # Try again
    assert again.field("attempt") == "2"
    stale = again.post("continue", screen=again.field("screen"), attempt=stale_attempt)
    assert stale.status_code == 409
    with db() as session:
        numbers = [a.number for a in session.scalars(select(Attempt).order_by(Attempt.number))]
        assert numbers == [1, 2]


def test_course_home_lists_modules_with_status(client: FlaskClient, platform: FakePlatform) -> None:
    Learner(client, platform, "five-stages").walk(best)
    course_home = launch(client, platform, **{c.RESOURCE_LINK: {"id": "course-home"}})
    home = client.get(course_home.headers["Location"], base_url=TOOL_URL)
    assert home.status_code == 200
    assert re.search(r"The five stages of intervention</a>.*?Passed \(100%\)", home.text, re.S)
    assert "Not started" in home.text


def test_every_module_can_be_finished_on_its_best_path(client: FlaskClient, platform: FakePlatform) -> None:
    for slug in get_content().modules:
        learner = Learner(client, platform, slug, sub=f"walker-{slug}")
        learner.walk(best)
        assert "Passed" in learner.page.text, slug


def _ends(module: Module) -> set[str]:
    return {s.id for s in module.screens if isinstance(s, EndScreen)}


def test_legal_module_shows_the_notice_on_every_screen(client: FlaskClient, platform: FakePlatform) -> None:
    learner = Learner(client, platform, "legal-duty")
    assert "Not legal advice." in learner.page.text
    learner.post("start")
    while learner.step(best):
        assert "Not legal advice." in learner.page.text
    assert _ends(learner.module)
