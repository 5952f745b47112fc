"""axe-core finds no WCAG 2.1 A/AA violation on the demo LMS and on the tool's pages inside its iframe."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Frame, Page, expect

from lti_tool.demo import roster

from .axe import assert_no_axe_violations
from .conftest import Server
from .pages import open_course, tool_document

pytestmark = pytest.mark.e2e







def launch_first_placement(page: Page, server: Server, person: roster.Person) -> Frame:
    open_course(page, server)
    page.locator("article.lms-placement").first.get_by_role("link", name=f"Open as {person.name}").click()
    return tool_document(page)


def test_demo_lms_course_page(page: Page, server: Server) -> None:
    open_course(page, server)
    assert_no_axe_violations(page)


def test_learner_landing_page(page: Page, server: Server) -> None:
    learner = roster.learners()[0]
    frame = launch_first_placement(page, server, learner)
    expect(frame.get_by_role("heading", level=1)).to_contain_text("Welcome")
    assert_no_axe_violations(frame)


def test_coordinator_landing_page(page: Page, server: Server) -> None:
    frame = launch_first_placement(page, server, roster.coordinator())
    expect(frame.get_by_role("heading", level=1)).to_contain_text("Training coordinator")
    assert_no_axe_violations(frame)


def test_deep_linking_picker(page: Page, server: Server) -> None:
    coordinator = roster.coordinator()
    open_course(page, server)
    page.get_by_role("link", name=f"Add modules (deep linking) as {coordinator.name}").click()
    frame = tool_document(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Add Upstander modules to your course")
    assert_no_axe_violations(frame)


def test_error_page_for_a_tampered_token(page: Page, server: Server) -> None:
    open_course(page, server)
    page.get_by_role("link", name="Launch with a tampered token").click()
    frame = tool_document(page)
    expect(frame.locator("dl.facts code")).to_have_text("signature_invalid")
    assert_no_axe_violations(frame)


def test_landing_page_has_no_horizontal_scroll_at_320_px(context: BrowserContext, server: Server) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": 320, "height": 640})
    frame = launch_first_placement(page, server, roster.learners()[0])
    expect(frame.get_by_role("heading", level=1)).to_contain_text("Welcome")
    widths = frame.evaluate(
        "() => ({scroll: document.scrollingElement.scrollWidth, client: document.scrollingElement.clientWidth,"
        " frame: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["client"] + 1, (
        f"the tool's landing page scrolls sideways at a 320 px viewport: scrollWidth {widths['scroll']} > "
        f"clientWidth {widths['client']} (the iframe is {widths['frame']} px wide)"
    )
