"""Scoring attempts from visits, where the process finds its content, and the catalogue built from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from lti_tool import catalogue
from lti_tool.content import (
    BUILT_IN,
    DecisionScreen,
    Module,
    configured_paths,
    load_content,
    max_points,
    passed,
    registry,
    score,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "content"


@pytest.fixture(scope="module")
def module() -> Module:
    return load_content([FIXTURES / "valid"]).modules["first-steps"]


def test_max_points_is_the_best_choice(module: Module) -> None:
    notice, act = module.screen("notice"), module.screen("act")
    assert isinstance(notice, DecisionScreen) and isinstance(act, DecisionScreen)
    assert (max_points(notice), max_points(act)) == (2, 3)


def test_a_straight_path_scores_full_marks(module: Module) -> None:
    overall, stages = score(module, [("notice", "step-in"), ("act", "tell")])
    assert overall == 1.0
    assert stages == {1: 1.0, 2: 1.0}
    assert passed(module, overall)


def test_a_recovery_path_counts_the_wrong_first_answer(module: Module) -> None:
    visits = [("intro", ""), ("notice", "wait"), ("rethink", ""), ("notice", "step-in"), ("act", "ask")]
    overall, stages = score(module, visits)
    # Stage 1: 0 + 2 out of 2 + 2; stage 2: 1 out of 3; overall 3 out of 7.
    assert stages == {1: 0.5, 2: pytest.approx(1 / 3)}
    assert overall == pytest.approx(3 / 7)
    assert not passed(module, overall)


def test_mastery_is_inclusive(module: Module) -> None:
    # 0.75 is this module's mastery: 3 of 4 points passes.
    overall, _ = score(module, [("notice", "wait"), ("notice", "step-in"), ("notice", "step-in")])
    assert overall == pytest.approx(4 / 6)
    assert passed(module, 0.75) and not passed(module, 0.7499)


def test_only_visited_stages_are_scored(module: Module) -> None:
    assert score(module, [("notice", "step-in")]) == (1.0, {1: 1.0})
    assert score(module, []) == (0.0, {})


@pytest.mark.parametrize("visit", [("nowhere", "a"), ("notice", "nope")])
def test_unknown_screens_and_choices_are_refused(module: Module, visit: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="has no screen"):
        score(module, [visit])


def test_paths_come_from_the_app_config_in_an_app(tmp_path: Path) -> None:
    app = Flask(__name__)
    app.config["CONTENT_PATH"] = f"{tmp_path / 'a'}::{tmp_path / 'b'}"
    with app.app_context():
        assert configured_paths() == (BUILT_IN, tmp_path / "a", tmp_path / "b")


def test_paths_come_from_the_environment_outside_an_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("UPSTANDER_CONTENT_PATH", str(tmp_path))
    assert configured_paths() == (BUILT_IN, tmp_path)
    monkeypatch.delenv("UPSTANDER_CONTENT_PATH")
    assert configured_paths() == (BUILT_IN,)


def test_catalogue_lists_the_loaded_modules_in_curriculum_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "BUILT_IN", FIXTURES / "valid")
    monkeypatch.setenv("UPSTANDER_CONTENT_PATH", str(FIXTURES / "agency"))
    assert [m.slug for m in catalogue.modules()] == ["first-steps", "speaking-up", "local-policy"]
    assert catalogue.by_slug("speaking-up") == catalogue.ModuleEntry(
        slug="speaking-up", title="Speaking up to a superior", summary="One decision about rank.", minutes=5
    )
    assert catalogue.by_slug("nowhere") is None
