"""Agency modules from UPSTANDER_CONTENT_PATH play like built-in ones; "back" works only where allowed."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import Router
from tests.functional.test_player import Learner, best
from tests.platform import FakePlatform

DB = Callable[[], AbstractContextManager[Session]]
AGENCY = Path(__file__).resolve().parent.parent / "fixtures" / "content" / "valid"


@pytest.fixture
def agency_content(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    app.config["CONTENT_PATH"] = str(AGENCY)
    monkeypatch.setenv("UPSTANDER_CONTENT_PATH", str(AGENCY))


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)


@pytest.mark.usefixtures("agency_content")
def test_agency_module_plays_and_back_is_offered_only_where_the_content_allows(
    client: FlaskClient, platform: FakePlatform
) -> None:
    learner = Learner(client, platform, "first-steps")
    learner.post("start")
    assert learner.field("screen") == "intro"
    assert ">Back</button>" not in learner.page.text
    learner.step(best)
    assert learner.field("screen") == "notice"
    assert ">Back</button>" in learner.page.text
    assert learner.post("back", screen="notice", attempt="1").status_code == 303
    assert learner.field("screen") == "intro"
    assert learner.post("back", screen="intro", attempt="1").status_code == 409  # not from a teaching screen
    learner.step(best)
    while learner.step(best):
        pass
    assert "Passed" in learner.page.text
