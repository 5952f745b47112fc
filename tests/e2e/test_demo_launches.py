"""A person in a browser uses the demo LMS, and Upstander answers inside its cross-site iframe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Frame, FrameLocator, Locator, Page, expect

from lti_tool.catalogue import modules
from lti_tool.demo import roster

from .conftest import Server
from .pages import TOOL_FRAME, open_course

pytestmark = pytest.mark.e2e



def tool_frame(page: Page) -> FrameLocator:
    return page.frame_locator(TOOL_FRAME)


def frame_of(page: Page) -> Frame:
    """Return the iframe's current document (to read its URL)."""
    frame = page.locator(TOOL_FRAME).element_handle().content_frame()
    assert frame is not None
    return frame


def assert_served_by_tool(page: Page, server: Server, path: str) -> None:
    """The frame's document is the tool's, on 127.0.0.1, while the page is the LMS's, on localhost."""
    assert page.url.startswith(server.lms_url + "/demo-lms/")
    assert frame_of(page).url.startswith(server.tool_url + path), frame_of(page).url




def placement(page: Page, title: str | None = None) -> Locator:
    articles = page.locator("article.lms-placement")
    if title is None:
        return articles.first
    return articles.filter(has=page.get_by_role("heading", name=title, exact=True))


def test_learner_launch_shows_their_landing_page(page: Page, server: Server) -> None:
    learner = roster.learners()[0]
    open_course(page, server)
    placement(page).get_by_role("link", name=f"Open as {learner.name}").click()

    frame = tool_frame(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text(f"Welcome, {learner.name}")
    expect(frame.locator(".who")).to_contain_text("Learner")
    assert_served_by_tool(page, server, "/app/")


def test_coordinator_launch_shows_the_coordinator_page(page: Page, server: Server) -> None:
    coordinator = roster.coordinator()
    open_course(page, server)
    placement(page).get_by_role("link", name=f"Open as {coordinator.name}").click()

    frame = tool_frame(page)
    heading = frame.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Training coordinator")
    expect(heading).to_contain_text(roster.COURSE_TITLE)
    expect(frame.locator(".who")).to_contain_text(coordinator.name)
    assert_served_by_tool(page, server, "/app/")


def test_tampered_token_is_refused_inside_the_frame(page: Page, server: Server) -> None:
    open_course(page, server)
    page.get_by_role("link", name="Launch with a tampered token").click()

    frame = tool_frame(page)
    expect(frame.locator("dl.facts code")).to_have_text("signature_invalid")
    expect(frame.get_by_text("Nothing was recorded for this attempt.")).to_be_visible()
    expect(frame.get_by_role("heading", name=re.compile("Welcome"))).to_have_count(0)
    assert_served_by_tool(page, server, "/lti/launch")


def test_coordinator_adds_two_modules_and_a_learner_opens_one(page: Page, server: Server) -> None:
    coordinator, learner = roster.coordinator(), roster.learners()[1]
    chosen = list(modules()[1:3])
    open_course(page, server)
    page.get_by_role("link", name=f"Add modules (deep linking) as {coordinator.name}").click()

    frame = tool_frame(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Add Upstander modules to your course")
    for module in chosen:
        frame.get_by_label(module.title).check()
    frame.get_by_role("button", name="Add to course").click()

    # The tool posts the signed response back to the LMS, inside the same frame.
    expect(frame.get_by_role("heading", level=1)).to_have_text("Added to the course")
    for module in chosen:
        expect(frame.get_by_role("listitem").filter(has_text=module.title)).to_have_count(1)
    assert frame_of(page).url.startswith(server.lms_url + "/demo-lms/deep-link/return")
    frame.get_by_role("link", name="Back to the course").click()

    expect(page).to_have_url(server.course_url)
    for module in chosen:
        expect(placement(page, module.title)).to_have_count(1)
    placement(page, chosen[0].title).get_by_role("link", name=f"Open as {learner.name}").click()

    frame = tool_frame(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text(chosen[0].title)
    expect(frame.locator(".who")).to_contain_text(learner.name)
    expect(frame.get_by_role("button", name="Start")).to_be_visible()
    assert_served_by_tool(page, server, "/app/")
