"""Shared steps of the browser tests: the demo course page and the tool's iframe inside it."""

from __future__ import annotations

from playwright.sync_api import Frame, FrameLocator, Page, expect

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
