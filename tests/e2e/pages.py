"""Shared steps of the browser tests: the demo course page and the tool's iframe inside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Frame, FrameLocator, Page, expect

from lti_tool.catalogue import by_slug
from lti_tool.demo import roster

from .conftest import Server

TOOL_FRAME = "iframe[title='Upstander']"


def tool(page: Page) -> FrameLocator:
    """Return a locator for the tool's iframe."""
    return page.frame_locator(TOOL_FRAME)


def tool_document(page: Page) -> Frame:
    """Return the iframe's current document (for evaluate and axe) once it shows a level-one heading."""
    expect(tool(page).get_by_role("heading", level=1)).to_be_visible()
    frame = page.locator(TOOL_FRAME).element_handle().content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    return frame


def open_course(page: Page, server: Server) -> None:
    """Open the demo LMS's course page."""
    page.goto(server.course_url)
    expect(page.get_by_role("heading", level=1)).to_contain_text(roster.COURSE_TITLE)


MODULES = Path(__file__).resolve().parents[2] / "content" / "modules"


# --- content ----------------------------------------------------------------------------------------

def read_module(slug: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((MODULES / f"{slug}.yaml").read_text(encoding="utf-8"))
    return data


def screens_of(module: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {screen["id"]: screen for screen in module["screens"]}


def best_choice(screen: dict[str, Any]) -> dict[str, Any]:
    return next(choice for choice in screen["choices"] if choice.get("best"))


def worst_choice(screen: dict[str, Any]) -> dict[str, Any]:
    """Return the choice worth the fewest points (the first of them, never the best one)."""
    return min(screen["choices"], key=lambda choice: (choice.get("points", 0), bool(choice.get("best"))))


Pick = Callable[[dict[str, Any]], dict[str, Any]]


def path_of(module: dict[str, Any], pick: Pick) -> list[dict[str, Any]]:
    """Return the screens visited from ``start`` to an end screen when always answering with ``pick``."""
    screens, path, current = screens_of(module), [], module["start"]
    while True:
        screen = screens[current]
        path.append(screen)
        if screen["type"] == "end":
            return path
        current = screen["next"] if screen["type"] == "teach" else pick(screen)["next"]
        assert len(path) <= len(screens) * 2, f"{module['slug']}: the choices loop"


def best_path(module: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the screens visited from ``start`` to an end screen when always choosing the best choice."""
    return path_of(module, best_choice)


def squash(text: str) -> str:
    return " ".join(text.split())


# --- the demo LMS course -----------------------------------------------------------------------------------







def placements_titled(page: Page, title: str) -> Any:
    return page.locator("article.lms-placement").filter(has=page.get_by_role("heading", name=title, exact=True))


def ensure_placement(page: Page, server: Server, slug: str) -> str:
    """Add the module to the demo course by deep linking unless it is already placed; return its title."""
    entry = by_slug(slug)
    assert entry is not None, slug
    open_course(page, server)
    if placements_titled(page, entry.title).count():
        return entry.title
    coordinator = roster.coordinator()
    page.get_by_role("link", name=f"Add modules (deep linking) as {coordinator.name}").click()
    frame = tool(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Add Upstander modules to your course")
    frame.get_by_label(entry.title).check()
    frame.get_by_role("button", name="Add to course").click()
    expect(frame.get_by_role("heading", level=1)).to_have_text("Added to the course")
    frame.get_by_role("link", name="Back to the course").click()
    expect(page).to_have_url(server.course_url)
    expect(placements_titled(page, entry.title)).not_to_have_count(0)
    return entry.title


def launch(page: Page, server: Server, title: str, person: roster.Person) -> FrameLocator:
    """Open the (first) placement with this title as this person; return the tool's frame."""
    open_course(page, server)
    placements_titled(page, title).first.get_by_role("link", name=f"Open as {person.name}").click()
    return tool(page)


def play(frame: FrameLocator, module: dict[str, Any], pick: Pick, decisions: int | None = None) -> None:
    """Start the module (the learner is on its start page) and answer with ``pick``, with the mouse.

    With ``decisions`` the learner stops after that many answers (the attempt stays in progress);
    without, they play to the end screen.
    """
    frame.get_by_role("button", name="Start").click()
    answered = 0
    for screen in path_of(module, pick)[:-1]:
        if decisions is not None and answered >= decisions:
            return
        if screen["type"] == "decision":
            choice = pick(screen)
            frame.get_by_role("radio", name=squash(choice["text"]), exact=True).check()
            frame.get_by_role("button", name="Submit answer").click()
            expect(frame.get_by_role("status")).to_contain_text(squash(choice["feedback"]))
            answered += 1
        frame.get_by_role("button", name="Continue").click()
    expect(frame.get_by_role("button", name="Try again")).to_be_visible()


# --- the keyboard -----------------------------------------------------------------------------------

_FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const label = el.labels && el.labels.length ? el.labels[0].textContent : (el.textContent || el.value || '');
    const style = getComputedStyle(el);
    return {tag: el.tagName.toLowerCase(), type: el.type || '', id: el.id, checked: !!el.checked,
            value: el.value === undefined ? null : el.value,
            name: label.replace(/\\s+/g, ' ').trim(), focusVisible: el.matches(':focus-visible'),
            outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth) || 0,
            shadow: style.boxShadow};
}"""


def focused_in_tool(page: Page) -> dict[str, Any] | None:
    """Return the focused element of the tool's document, or None when focus is elsewhere (the LMS page)."""
    if page.evaluate("() => document.activeElement && document.activeElement.tagName") != "IFRAME":
        return None
    found: dict[str, Any] | None = tool_document(page).evaluate(_FOCUSED)
    return found


def tab_to(page: Page, tag: str, name: str | None = None, *, kind: str | None = None,
           element_id: str | None = None, max_tabs: int = 60, visible_focus: bool = False) -> dict[str, Any]:
    """Press Tab until the tool's focused element is a ``tag`` (of this type, name or id); with
    ``visible_focus``, check that it shows where the focus is."""
    seen = []
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        found = focused_in_tool(page)
        seen.append(found and (found["tag"], found["id"] or found["name"]))
        if found and found["tag"] == tag and (kind is None or found["type"] == kind) and (
                name is None or found["name"] == name) and (element_id is None or found["id"] == element_id):
            if visible_focus:
                assert found["focusVisible"], f"{found} is focused but does not match :focus-visible"
                assert (found["outline"] != "none" and found["outlineWidth"] >= 2) or found["shadow"] != "none", (
                    f"no visible focus indicator on {found}")
            return found
    pytest.fail(f"{max_tabs} Tab presses never reached <{tag}> {name or element_id!r}; focus went through: {seen}")
