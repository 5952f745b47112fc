"""Score an attempt from the decisions a learner visited, following the README's "Scoring"."""

from __future__ import annotations

from collections.abc import Iterable

from lti_tool.content.model import DecisionScreen, Module


def max_points(decision: DecisionScreen) -> int:
    """Return the most points one visit to this decision can earn."""
    return max(choice.points for choice in decision.choices)


def score(module: Module, visits: Iterable[tuple[str, str]]) -> tuple[float, dict[int, float]]:
    """Return the module's score and each visited stage's score, as fractions from 0 to 1.

    ``visits`` are (screen id, choice id) pairs in the order the learner answered; a decision
    answered twice (a recovery path) counts twice. Visits to other screens are ignored.
    """
    earned: dict[int, int] = {}
    available: dict[int, int] = {}
    for screen_id, choice_id in visits:
        try:
            screen = module.screen(screen_id)
            if not isinstance(screen, DecisionScreen):
                continue
            points = screen.choice(choice_id).points
        except KeyError as exc:
            raise ValueError(f"module {module.slug} has no screen {screen_id!r} with choice {choice_id!r}") from exc
        earned[screen.stage] = earned.get(screen.stage, 0) + points
        available[screen.stage] = available.get(screen.stage, 0) + max_points(screen)
    stages = {stage: _fraction(earned[stage], available[stage]) for stage in sorted(available)}
    return _fraction(sum(earned.values()), sum(available.values())), stages


def passed(module: Module, overall: float) -> bool:
    """Return True when a module score reaches the module's mastery mark."""
    return overall >= module.mastery


def _fraction(part: int, whole: int) -> float:
    """Return part / whole, or 0 when nothing could be earned (no decision visited)."""
    return part / whole if whole else 0.0
