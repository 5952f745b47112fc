"""The module player, as a learner uses it inside the demo LMS's iframe: start, screens, feedback, score, resume.

The walks follow the module files in content/modules/: each test reads the YAML to know the screens and
always picks the choice marked ``best: true``, so the expected path and scores are known in advance.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, FrameLocator, Page, expect

from lti_tool.demo import roster

from .axe import assert_no_axe_violations
from .conftest import Server
from .pages import (
    best_choice,
    best_path,
    ensure_placement,
    focused_in_tool,
    launch,
    read_module,
    squash,
    tab_to,
    tool,
    tool_document,
)

pytestmark = pytest.mark.e2e

# --- the player's contract --------------------------------------------------------------------------

def expect_start_page(frame: FrameLocator, module: dict[str, Any]) -> None:
    expect(frame.get_by_role("heading", level=1)).to_have_text(module["title"])
    for objective in module["objectives"]:
        expect(frame.get_by_role("listitem").filter(has_text=objective)).to_have_count(1)


def expect_screen(frame: FrameLocator, screen: dict[str, Any]) -> None:
    """What every teach, decision and end screen shows: its title as h1 and a progress bar named Progress."""
    expect(frame.get_by_role("heading", level=1)).to_have_text(squash(screen["title"]))
    expect(frame.locator("progress")).to_have_count(1)
    expect(frame.get_by_role("progressbar", name="Progress")).to_have_count(1)
    if screen["type"] == "teach":
        expect(frame.get_by_role("button", name="Continue")).to_be_visible()
    elif screen["type"] == "decision":
        legend = frame.locator("fieldset > legend")
        expect(legend).to_have_count(1)
        expect(legend).to_have_text(squash(screen["prompt"]))
        radios = frame.locator("fieldset").get_by_role("radio")
        expect(radios).to_have_count(len(screen["choices"]))
        for choice in screen["choices"]:
            expect(frame.get_by_role("radio", name=squash(choice["text"]), exact=True)).to_have_count(1)
        expect(frame.get_by_role("button", name="Submit answer")).to_be_visible()


def expect_feedback(page: Page, choice: dict[str, Any]) -> None:
    frame = tool(page)
    expect(frame.get_by_role("status")).to_contain_text(squash(choice["feedback"]))
    tool_document(page).wait_for_function(
        "() => document.activeElement !== null && document.activeElement.id === 'feedback'"
    )
    expect(frame.get_by_role("button", name="Continue")).to_be_visible()


def expect_end_screen(frame: FrameLocator, module: dict[str, Any], screen: dict[str, Any]) -> None:
    expect_screen(frame, screen)
    table = frame.get_by_role("table", name="Your score by stage")
    expect(table).to_be_visible()
    expect(table.locator("caption")).to_have_text("Your score by stage")
    for stage in module["stages"]:
        row = table.get_by_role("row").filter(has_text=re.compile(rf"Stage {stage} —"))
        expect(row).to_have_count(1)
        expect(row).to_contain_text("100%")
    if 1 in module["stages"]:
        expect(table.get_by_role("row").filter(has_text="Stage 1 — See the problem")).to_have_count(1)
    expect(frame.get_by_text(re.compile(r"\bPassed\b")).first).to_be_visible()
    expect(frame.get_by_text("Not passed yet")).to_have_count(0)
    expect(frame.get_by_role("button", name="Try again")).to_be_visible()


def answer_with_mouse(page: Page, screen: dict[str, Any]) -> dict[str, Any]:
    choice = best_choice(screen)
    frame = tool(page)
    frame.get_by_role("radio", name=squash(choice["text"]), exact=True).check()
    frame.get_by_role("button", name="Submit answer").click()
    return choice


# --- keyboard ---------------------------------------------------------------------------------------

def press_button(page: Page, name: str) -> None:
    tab_to(page, "button", name)
    page.keyboard.press("Enter")


def answer_with_keyboard(page: Page, screen: dict[str, Any]) -> dict[str, Any]:
    """Tab into the radio group, move to the best choice with the arrow keys, select it with Space, submit."""
    choice = best_choice(screen)
    target = squash(choice["text"])
    found = tab_to(page, "input", kind="radio")
    for _ in range(len(screen["choices"])):
        if found["name"] == target:
            break
        page.keyboard.press("ArrowDown")
        found = focused_in_tool(page) or {}
    assert found.get("name") == target, f"the arrow keys never reached the choice {target!r}"
    page.keyboard.press("Space")
    expect(tool(page).get_by_role("radio", name=target, exact=True)).to_be_checked()
    press_button(page, "Submit answer")
    return choice


def focus_tool(page: Page) -> None:
    """Put keyboard focus into the tool's document (as a keyboard user would by tabbing into the frame)."""
    tool_document(page).evaluate("() => { window.focus(); (document.querySelector('main') || document.body).focus(); }")


# --- tests ------------------------------------------------------------------------------------------

def test_walk_five_stages_with_the_best_choices(page: Page, server: Server) -> None:
    module = read_module("five-stages")
    title = ensure_placement(page, server, "five-stages")
    learner = roster.learners()[0]
    frame = launch(page, server, title, learner)
    expect_start_page(frame, module)
    expect(frame.get_by_role("button", name="Start")).to_be_visible()
    assert_no_axe_violations(tool_document(page))
    frame.get_by_role("button", name="Start").click()

    checked: set[str] = set()
    path = best_path(module)
    for screen in path[:-1]:
        expect_screen(frame, screen)
        if screen["type"] not in checked:
            assert_no_axe_violations(tool_document(page))
            checked.add(screen["type"])
        if screen["type"] == "teach":
            frame.get_by_role("button", name="Continue").click()
            continue
        choice = answer_with_mouse(page, screen)
        expect_feedback(page, choice)
        if "feedback" not in checked:
            assert_no_axe_violations(tool_document(page))
            checked.add("feedback")
        frame.get_by_role("button", name="Continue").click()

    expect_end_screen(frame, module, path[-1])
    assert_no_axe_violations(tool_document(page))


def test_walk_three_ds_by_keyboard_only(page: Page, server: Server) -> None:
    module = read_module("three-ds")
    title = ensure_placement(page, server, "three-ds")
    frame = launch(page, server, title, roster.learners()[1])
    expect_start_page(frame, module)
    focus_tool(page)
    press_button(page, "Start")

    path = best_path(module)
    for screen in path[:-1]:
        expect_screen(frame, screen)
        if screen["type"] == "teach":
            press_button(page, "Continue")
            continue
        choice = answer_with_keyboard(page, screen)
        expect_feedback(page, choice)
        press_button(page, "Continue")

    expect_end_screen(frame, module, path[-1])


def test_resume_after_closing_the_page(context: BrowserContext, server: Server) -> None:
    module = read_module("five-stages")
    path = best_path(module)
    decisions = [i for i, screen in enumerate(path) if screen["type"] == "decision"]
    second = decisions[1]
    learner = roster.learners()[2]

    page = context.new_page()
    title = ensure_placement(page, server, "five-stages")
    frame = launch(page, server, title, learner)
    expect_start_page(frame, module)
    frame.get_by_role("button", name="Start").click()
    for screen in path[: second + 1]:
        expect_screen(frame, screen)
        if screen["type"] == "teach":
            frame.get_by_role("button", name="Continue").click()
            continue
        expect_feedback(page, answer_with_mouse(page, screen))
        if screen is not path[second]:
            frame.get_by_role("button", name="Continue").click()
    page.close()

    page = context.new_page()
    frame = launch(page, server, title, learner)
    expect_start_page(frame, module)
    expect(frame.get_by_role("button", name="Resume")).to_be_visible()
    frame.get_by_role("button", name="Resume").click()
    # The feedback on the last answer was never dismissed, so the learner is back on it;
    # continuing goes to the screen after that decision, not to the start.
    second_choice = next(ch for ch in path[second]["choices"] if ch.get("best"))
    expect_feedback(page, second_choice)
    frame.get_by_role("button", name="Continue").click()
    expect_screen(frame, path[second + 1])


def test_policy_is_attached_then_acknowledged_at_the_end_of_the_policy_module(page: Page, server: Server) -> None:
    module = read_module("policy-and-culture")
    title = ensure_placement(page, server, "policy-and-culture")
    frame = launch(page, server, title, roster.coordinator())
    # A coordinator lands on the course's dashboard; the policy has its own page there.
    frame.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Agency policy").click()
    expect(frame.get_by_role("heading", name="Your agency's Duty to Intervene policy")).to_be_visible()
    frame.get_by_label("Policy title").fill("General Order 4.12: Duty to Intervene")
    frame.get_by_label("Full text of the policy").fill(
        "Every member shall intervene to prevent or stop misconduct by another member, regardless of rank.")
    frame.get_by_role("button", name=re.compile("Attach the policy|Publish a new version")).click()
    expect(frame.get_by_text(re.compile(r"Version \d+, .General Order 4\.12"))).to_be_visible()
    assert_no_axe_violations(tool_document(page))

    frame = launch(page, server, title, roster.learners()[0])
    frame.get_by_role("button", name=re.compile("Start|Resume|Try again")).click()
    path = best_path(module)
    for screen in path[:-1]:
        expect_screen(frame, screen)
        if screen["type"] == "decision":
            expect_feedback(page, answer_with_mouse(page, screen))
        frame.get_by_role("button", name="Continue").click()
    expect(frame.get_by_role("heading", level=1)).to_have_text("Your agency's Duty to Intervene policy")
    expect(frame.get_by_text("General Order 4.12: Duty to Intervene")).to_be_visible()
    assert_no_axe_violations(tool_document(page))
    frame.get_by_label(re.compile("I have read and understand")).check()
    frame.get_by_role("button", name="Acknowledge").click()
    expect_end_screen(frame, module, path[-1])


def _no_sideways_scroll(page: Page, what: str) -> None:
    widths = tool_document(page).evaluate(
        "() => ({scroll: document.scrollingElement.scrollWidth, client: document.scrollingElement.clientWidth})"
    )
    assert widths["scroll"] <= widths["client"] + 1, f"{what} scrolls sideways: {widths}"


def test_player_screens_reflow_at_320_px_and_at_200_percent_zoom(context: BrowserContext, server: Server) -> None:
    module = read_module("five-stages")
    page = context.new_page()
    page.set_viewport_size({"width": 320, "height": 640})
    title = ensure_placement(page, server, "five-stages")
    frame = launch(page, server, title, roster.learners()[1])
    frame.get_by_role("button", name="Start").click()
    path = best_path(module)
    expect_screen(frame, path[0])  # measure the first screen, not the start page it replaces
    _no_sideways_scroll(page, "a teaching screen at 320 px")
    decision = next(screen for screen in path if screen["type"] == "decision")
    for screen in path:
        expect_screen(frame, screen)  # waits for each page, so a click never lands on the one before
        if screen is decision:
            break
        frame.get_by_role("button", name="Continue").click()
    for viewport in ({"width": 320, "height": 640}, {"width": 640, "height": 400}):
        # 640 CSS pixels is what a 1280-pixel-wide window shows at 200% zoom.
        page.set_viewport_size(viewport)
        _no_sideways_scroll(page, f"a decision screen at {viewport['width']} px")
    expect_feedback(page, answer_with_mouse(page, decision))
    _no_sideways_scroll(page, "the feedback at 640 px")
