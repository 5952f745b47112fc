"""Launches in a Chromium that refuses the tool's cookies inside the LMS, as Safari does.

How the cookies are blocked. Chromium's own "block third-party cookies" still accepts CHIPS cookies
(``Partitioned``), and the tool's cookies are partitioned, so that setting alone changes nothing for
Upstander (checked: the embedded frame still received its partitioned cookie). What does refuse them
is a cookie content-setting exception, written into the profile's ``Default/Preferences`` before
Chromium starts (a persistent context): ``profile.content_settings.exceptions.cookies`` with the
pattern pair "<tool origin>,<LMS origin>" set to 2 (block). The primary pattern is the cookie's site,
the secondary the top-level site, so the tool's cookies are refused only while it is embedded in the
demo LMS; a top-level window of the tool keeps its cookies, as in Safari. Chromium 156 honours it
(``--disable-features=PartitionedCookies`` no longer changes anything, and the CDP cookie controls
only steer unpartitioned third-party cookies). ``test_the_blocking_is_real`` observes it: inside the
iframe a partitioned cookie written by script does not stick in this profile and does in a default one,
and a launch that relies on the state cookie alone ends on the new-window page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, FrameLocator, Page, expect

from lti_tool.demo import roster

from .axe import assert_no_axe_violations
from .conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, Server
from .pages import best_choice, ensure_placement, launch, open_course, play, read_module, tool, tool_document

pytestmark = pytest.mark.e2e

PROBE = """() => {
    document.cookie = "probe=1; Secure; SameSite=None; Partitioned; Path=/";
    return document.cookie;
}"""


def blocking_preferences(server: Server) -> dict[str, object]:
    """Return a profile's Preferences that refuse the tool's cookies when the demo LMS embeds it."""
    pattern = f"{server.tool_url},{server.lms_url}"
    return {"profile": {
        "cookie_controls_mode": 1, "block_third_party_cookies": True,
        "content_settings": {"exceptions": {"cookies": {pattern: {"setting": 2}}}},
    }}


@pytest.fixture
def blocked(browser: Browser, server: Server, tmp_path: Path) -> Iterator[BrowserContext]:
    """A Chromium profile that blocks the tool's cookies inside the LMS (a persistent context)."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(blocking_preferences(server)))
    context = browser.browser_type.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


def _page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else context.new_page()


def launch_without_storage(page: Page, server: Server) -> FrameLocator:
    open_course(page, server)
    page.get_by_role("link", name="Launch without platform storage").click()
    return tool(page)


def frame_url(page: Page) -> str:
    return tool_document(page).url


def test_the_blocking_is_real(blocked: BrowserContext, page: Page, server: Server) -> None:
    learner = roster.learners()[0]
    # The old path (state cookie only, no storage, no new window) fails in the blocked profile ...
    blocked_page = _page(blocked)
    frame = launch_without_storage(blocked_page, server)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Open Upstander in a new window", timeout=TIMEOUT_MS)
    tool_doc = tool_document(blocked_page)
    assert tool_doc.url.startswith(server.tool_url + "/lti/launch")
    assert tool_doc.evaluate(PROBE) == ""
    # ... and succeeds in a default profile, where the partitioned cookie sticks.
    frame = launch_without_storage(page, server)
    expect(frame.get_by_role("heading", level=1)).to_have_text(f"Welcome, {learner.name}", timeout=TIMEOUT_MS)
    assert "probe=1" in tool_document(page).evaluate(PROBE)


def test_platform_storage_launch_plays_a_module(blocked: BrowserContext, server: Server) -> None:
    page = _page(blocked)
    learner = roster.learners()[2]
    # The coordinator's deep-linking launch goes through platform storage too.
    title = ensure_placement(page, server, "three-ds")
    frame = launch(page, server, title, learner)
    expect(frame.get_by_role("heading", level=1)).to_have_text(title, timeout=TIMEOUT_MS)
    expect(frame.locator(".who")).to_contain_text(learner.name)
    # The session is URL-bound (its secret in the path): no cookie came back from the tool.
    assert re.search(r"/app/[\w-]+\.[\w-]+/play/three-ds/", frame_url(page)), frame_url(page)
    play(frame, read_module("three-ds"), best_choice, decisions=1)
    assert re.search(r"/app/[\w-]+\.[\w-]+/play/three-ds/", frame_url(page)), frame_url(page)


def test_without_storage_the_new_window_completes_the_launch(blocked: BrowserContext, server: Server) -> None:
    page = _page(blocked)
    learner = roster.learners()[0]
    frame = launch_without_storage(page, server)
    expect(frame.get_by_text("Your browser blocked the cookie Upstander needs inside the LMS.")).to_be_visible(
        timeout=TIMEOUT_MS)
    assert_no_axe_violations(tool_document(page))
    with blocked.expect_page() as opened:
        frame.get_by_role("link", name="Open Upstander in a new window").click()
    window = opened.value
    expect(window.get_by_role("heading", level=1)).to_have_text(f"Welcome, {learner.name}", timeout=TIMEOUT_MS)
    # A top-level window of the tool keeps its cookies: an ordinary cookie-bound session.
    assert re.fullmatch(re.escape(server.tool_url) + r"/app/[\w-]+/", window.url), window.url
