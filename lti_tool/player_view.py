"""What a player page shows, derived from the content and the attempt (no database access)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cache

from markupsafe import Markup, escape

from lti_tool.content import Choice, DecisionScreen, EndScreen, Module, Screen, TeachScreen
from lti_tool.models import Attempt

STAGE_NAMES = {
    1: "See the problem",
    2: "Determine whether action is required",
    3: "Decide to take personal responsibility",
    4: "Determine how to intervene",
    5: "Take action",
}


@dataclass(frozen=True)
class Progress:
    """How far the learner is: screens seen and an estimate of the screens in all."""

    done: int
    total: int


@dataclass(frozen=True)
class StageLine:
    """One row of the end screen's score table."""

    stage: int
    name: str
    percent: int
    passed: bool


@cache
def _steps_to_end(module: Module) -> dict[str, int]:
    """Return, per screen, the fewest screens from it to an ending (breadth-first, backwards)."""
    parents: dict[str, list[str]] = {}
    for screen in module.screens:
        for target in _targets(screen):
            parents.setdefault(target, []).append(screen.id)
    steps = {s.id: 0 for s in module.screens if isinstance(s, EndScreen)}
    queue = deque(steps)
    while queue:
        current = queue.popleft()
        for parent in parents.get(current, []):
            if parent not in steps:
                steps[parent] = steps[current] + 1
                queue.append(parent)
    return steps


def _targets(screen: Screen) -> list[str]:
    if isinstance(screen, TeachScreen):
        return [screen.next]
    if isinstance(screen, DecisionScreen):
        return [choice.next for choice in screen.choices]
    return []


def progress(attempt: Attempt, module: Module) -> Progress:
    """Return screens seen so far out of seen plus the shortest way to an ending."""
    done = len(attempt.history)
    return Progress(done=done, total=done + _steps_to_end(module).get(attempt.screen, 0))


def feedback_choice(attempt: Attempt, module: Module) -> tuple[DecisionScreen, Choice] | None:
    """Return the decision and choice whose feedback is showing, if any."""
    if attempt.feedback is None:
        return None
    screen = module.screen(attempt.feedback["screen"])
    assert isinstance(screen, DecisionScreen)  # noqa: S101  (only decisions leave feedback)
    return screen, screen.choice(attempt.feedback["choice"])


def stage_lines(attempt: Attempt, module: Module) -> list[StageLine]:
    """Return the per-stage results of a finished attempt, in stage order."""
    return [
        StageLine(stage=r.stage, name=STAGE_NAMES.get(r.stage, f"Stage {r.stage}"),
                  percent=round(r.scaled * 100), passed=r.scaled >= module.mastery)
        for r in attempt.stage_results
    ]


def paragraphs(text: str) -> Markup:
    """Render content text: blank lines separate paragraphs, lines starting "- " make a list."""
    html = []
    for block in (b.strip() for b in text.strip().split("\n\n")):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines and all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{escape(line[2:])}</li>" for line in lines)
            html.append(f"<ul>{items}</ul>")
        elif lines:
            html.append(f"<p>{escape(' '.join(lines))}</p>")
    return Markup("".join(html))  # noqa: S704  (every piece of text above is escaped)
