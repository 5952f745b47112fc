"""Training content as typed, immutable values; see ``content/README.md`` for the format."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Tactic = Literal["distract", "direct", "delegate"]
Rank = Literal["peer", "superior"]


@dataclass(frozen=True)
class ContentProblem:
    """One thing wrong with a content file, at a line of it."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ContentInvalid(Exception):
    """The content has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[ContentProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Image:
    """A picture on a screen, with its text alternative."""

    src: str
    alt: str


@dataclass(frozen=True)
class Choice:
    """One answer to a decision, where it leads and what it earns."""

    id: str
    text: str
    feedback: str
    points: int
    next: str
    best: bool = False


@dataclass(frozen=True)
class TeachScreen:
    """A screen that explains something, then moves on to ``next``."""

    id: str
    title: str
    body: str
    next: str
    image: Image | None = None
    scenario: str | None = None
    type: Literal["teach"] = "teach"


@dataclass(frozen=True)
class DecisionScreen:
    """A scored choice that practises one intervention stage."""

    id: str
    title: str
    situation: str
    prompt: str
    stage: int
    choices: tuple[Choice, ...]
    tactic: Tactic | None = None
    rank: Rank | None = None
    back: bool = False
    image: Image | None = None
    scenario: str | None = None
    type: Literal["decision"] = "decision"

    def choice(self, choice_id: str) -> Choice:
        """Return the choice with this id, or raise KeyError."""
        for choice in self.choices:
            if choice.id == choice_id:
                return choice
        raise KeyError(choice_id)


@dataclass(frozen=True)
class EndScreen:
    """An ending of a module."""

    id: str
    title: str
    body: str
    image: Image | None = None
    scenario: str | None = None
    type: Literal["end"] = "end"


Screen = TeachScreen | DecisionScreen | EndScreen


@dataclass(frozen=True)
class Module:
    """One module: its catalogue facts and its screens in file order."""

    slug: str
    version: int
    title: str
    summary: str
    minutes: int
    objectives: tuple[str, ...]
    stages: tuple[int, ...]
    sources: tuple[str, ...]
    start: str
    screens: tuple[Screen, ...]
    mastery: float = 0.8
    legal_notice: bool = False
    review_date: dt.date | None = None
    policy_acknowledgement: bool = False
    # Where the module was read from: the player finds its images next to it.
    source: Path = field(default=Path(), compare=False)

    def screen(self, screen_id: str) -> Screen:
        """Return the screen with this id, or raise KeyError."""
        for screen in self.screens:
            if screen.id == screen_id:
                return screen
        raise KeyError(screen_id)

    @property
    def images(self) -> Path:
        """Return the folder this module's images are read from."""
        return self.source.parent.parent / "images"


@dataclass(frozen=True)
class Curriculum:
    """The order in which learners see the modules."""

    id: str
    title: str
    modules: tuple[str, ...]


# eq=False: identity hashing lets callers cache values derived from one loaded Content.
@dataclass(frozen=True, eq=False)
class Content:
    """A curriculum and its modules by slug, in curriculum order."""

    curriculum: Curriculum
    modules: Mapping[str, Module]
