"""The module catalogue, read from ``content/`` once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

CATALOGUE = Path(__file__).resolve().parent.parent / "content" / "catalogue.yaml"


@dataclass(frozen=True)
class ModuleEntry:
    """One module as the catalogue lists it."""

    slug: str
    title: str
    summary: str
    minutes: int


@cache
def modules() -> tuple[ModuleEntry, ...]:
    """Return the catalogue's modules in their listed order."""
    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    return tuple(
        ModuleEntry(slug=m["slug"], title=m["title"], summary=m["summary"], minutes=int(m["minutes"]))
        for m in data["modules"]
    )


def by_slug(slug: str) -> ModuleEntry | None:
    """Return the module with this slug, or None."""
    return next((m for m in modules() if m.slug == slug), None)
