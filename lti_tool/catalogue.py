"""The module catalogue offered to instructors, taken from the loaded training content."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from lti_tool.content import Content, get_content


@dataclass(frozen=True)
class ModuleEntry:
    """One module as the catalogue lists it."""

    slug: str
    title: str
    summary: str
    minutes: int


def modules() -> tuple[ModuleEntry, ...]:
    """Return the catalogue's modules in curriculum order."""
    return _entries(get_content())


def by_slug(slug: str) -> ModuleEntry | None:
    """Return the module with this slug, or None."""
    return next((m for m in modules() if m.slug == slug), None)


@cache
def _entries(content: Content) -> tuple[ModuleEntry, ...]:
    """Return the entries of one loaded Content (cached: Content hashes by identity)."""
    return tuple(
        ModuleEntry(slug=m.slug, title=m.title, summary=m.summary, minutes=m.minutes)
        for m in content.modules.values()
    )
