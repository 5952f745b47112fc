"""The coordinator dashboard in Chromium, inside the demo LMS's cross-site iframe.

Real learner launches from the demo LMS make the statuses the coordinator then sees: one officer passes
``why-intervene`` (always the best choice), one fails (always the worst choice), one stops after the
first answer and one never launches (the demo roster's fourth learner). No other browser test plays
``why-intervene``, and every waiver granted here is for an officer and module no other test touches,
so these tests pass in any order, alone or after the others (the server and database are shared).
"""

from __future__ import annotations

import csv
import re
import zlib
from base64 import a85decode
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, FrameLocator, Locator, Page, expect

from lti_tool.catalogue import by_slug
from lti_tool.demo import roster

from . import pages
from .axe import assert_no_axe_violations
from .conftest import TIMEOUT_MS, Server, bounded
from .pages import (
    best_choice,
    ensure_placement,
    focused_in_tool,
    launch,
    open_course,
    play,
    read_module,
    squash,
    tool,
    tool_document,
    worst_choice,
)

pytestmark = pytest.mark.e2e

SLUG = "why-intervene"
# Each test that grants a waiver uses its own (officer, module) pair: a module can be waived once.
WAIVED_IN_SCENARIO = "legal-duty"
WAIVED_BY_KEYBOARD = "role-play-peers"
WAIVED_FOR_AXE = "role-play-force-and-rank"
# The learners' launches run once for the file, outside any test's watchdog, so they get their own bound.
ACTIVITY_SECONDS = 120
# The served app's delivery loop posts scores to the demo LMS every few seconds.
AGS_SECONDS = 45
MAX_TABS = 80
COURSE_HEADING = f"Training coordinator — {roster.COURSE_TITLE}"


def title_of(slug: str) -> str:
    entry = by_slug(slug)
    assert entry is not None, slug
    return entry.title


# --- the learners' launches -------------------------------------------------------------------------

@dataclass(frozen=True)
class Activity:
    """The placement the learners opened, and who did what in it."""

    title: str
    passed: roster.Person
    in_progress: roster.Person
    failed: roster.Person
    never: roster.Person


@pytest.fixture(scope="module")
def activity(browser: Browser, server: Server) -> Activity:
    """Three officers launch ``why-intervene`` from the demo LMS: one passes, one stops early, one fails."""
    # The third learner only starts: test_statement_delivery reads their one finished attempt's statements.
    passed, failed, in_progress, never = roster.learners()[:4]
    assert not never.launches, "the demo roster's fourth learner is the one who never launches"
    module = read_module(SLUG)
    with bounded(server, ACTIVITY_SECONDS, "the learners' launches"):
        ctx = browser.new_context()
        ctx.set_default_timeout(TIMEOUT_MS)
        try:
            page = ctx.new_page()
            title = ensure_placement(page, server, SLUG)
            play(launch(page, server, title, passed), module, best_choice)
            expect(tool(page).get_by_role("heading", name=re.compile(r"Your result: 100% — Passed"))).to_be_visible()
            play(launch(page, server, title, failed), module, worst_choice)
            expect(tool(page).get_by_role("heading", name=re.compile(r"Your result: 0% — Not passed yet"))
                   ).to_be_visible()
            play(launch(page, server, title, in_progress), module, best_choice, decisions=1)
        finally:
            ctx.close()
    return Activity(title=title, passed=passed, in_progress=in_progress, failed=failed, never=never)


# --- the dashboard ----------------------------------------------------------------------------------

def open_dashboard(page: Page, server: Server, person: roster.Person, title: str | None = None) -> FrameLocator:
    """Launch as a coordinator (or administrator) from a placement; the course's overview opens."""
    frame = launch(page, server, title or ensure_placement(page, server, SLUG), person)
    expect(frame.get_by_role("heading", level=1)).to_have_text(COURSE_HEADING)
    return frame


def go(frame: FrameLocator, label: str) -> None:
    """Follow an entry of the dashboard's navigation."""
    frame.get_by_role("navigation", name="Dashboard").get_by_role("link", name=label, exact=True).click()
    expect(frame.get_by_role("navigation", name="Dashboard").get_by_role("link", name=label, exact=True)
           ).to_have_attribute("aria-current", "page")


def ids(page: Page) -> tuple[str, int]:
    """Return the tool session's id and the course's id, from a dashboard page's URL."""
    found = re.search(r"/app/([^/]+)/dashboard/(\d+)/", tool_document(page).url)
    assert found, tool_document(page).url
    return found.group(1), int(found.group(2))


def roster_table(frame: FrameLocator) -> Locator:
    return frame.get_by_role("table", name=re.compile(r"^Officers and their status"))


def status_cell(frame: FrameLocator, person: roster.Person) -> Locator:
    """The roster's status column (overall, or the filtered module's) in this officer's row."""
    row = roster_table(frame).get_by_role("row").filter(has=frame.get_by_role("link", name=person.name, exact=True))
    return row.locator("td").nth(1)


def filter_roster_by_module(frame: FrameLocator, slug: str) -> None:
    go(frame, "Officers")
    frame.get_by_label("Status in").select_option(slug)
    frame.get_by_role("button", name="Apply").click()
    expect(roster_table(frame)).to_have_accessible_name(re.compile(re.escape(f"(status column: {title_of(slug)})")))


def requirement_group(frame: FrameLocator, slug: str) -> Locator:
    return frame.get_by_role("group", name=title_of(slug), exact=True)


def grant_waiver(frame: FrameLocator, person: roster.Person, slug: str, reason: str) -> None:
    """Open the officer from the roster and excuse them from a module, with the mouse."""
    go(frame, "Officers")
    roster_table(frame).get_by_role("link", name=person.name, exact=True).click()
    expect(frame.get_by_role("heading", level=1)).to_have_text(person.name)
    frame.get_by_label("Module", exact=True).select_option(slug)
    frame.get_by_label("Reason (kept on record)").fill(reason)
    frame.get_by_role("button", name="Grant the waiver").click()
    expect(waiver_row(frame, slug)).to_contain_text(reason)


def waiver_row(frame: FrameLocator, slug: str) -> Locator:
    table = frame.get_by_role("table", name=re.compile("^Waivers, in force and revoked"))
    return table.get_by_role("row").filter(has=frame.get_by_role("rowheader", name=title_of(slug), exact=True))


def download(page: Page, frame: FrameLocator, link: str, extension: str) -> bytes:
    """Click a download link in the tool's frame (with the frame's session) and return the file's bytes."""
    with page.expect_download() as info:
        frame.get_by_role("link", name=link).click()
    name = info.value.suggested_filename
    assert re.fullmatch(rf"upstander-accreditation-demo-course-\d{{8}}-\d{{8}}\.{extension}", name), name
    return Path(info.value.path()).read_bytes()


# --- a pure look inside a PDF -----------------------------------------------------------------------

# A stream's dictionary (no nested dictionary in reportlab's content streams), then its bytes.
_STREAM = re.compile(rb"<<([^<>]*)>>\s*stream\r?\n(.*?)endstream", re.DOTALL)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.DOTALL)


def _unescape(found: re.Match[bytes]) -> bytes:
    """Undo a PDF string escape: an octal character code, or an escaped character."""
    code = found.group(1)
    return bytes([int(code, 8)]) if code[:1].isdigit() else code


def pdf_text(data: bytes) -> str:
    """Return the text shown by the PDF's content streams (the string operands of ``Tj``)."""
    shown: list[str] = []
    for head, raw in _STREAM.findall(data):
        body = raw.strip()
        if b"/ASCII85Decode" in head:
            body = a85decode(body.removesuffix(b"~>"))
        if b"/FlateDecode" in head:
            body = zlib.decompress(body)
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", body):
            shown.append(_ESCAPE.sub(_unescape, literal).decode("cp1252"))
    return "\n".join(shown)


# --- the "done when" scenario -----------------------------------------------------------------------

def test_coordinator_sees_real_statuses_sets_a_due_date_waives_and_downloads_the_reports(
        page: Page, server: Server, activity: Activity) -> None:
    coordinator, a = roster.coordinator(), activity
    frame = open_dashboard(page, server, coordinator, a.title)

    # The roster, read from the LMS (NRPS) on arrival, shows the officer who never launched too.
    filter_roster_by_module(frame, SLUG)
    expected = {a.passed: "Passed", a.in_progress: "In progress", a.failed: "Failed", a.never: "Not started"}
    for person, label in expected.items():
        expect(status_cell(frame, person)).to_have_text(label)

    # A due date, 90 days ahead (not yet "due soon"), and the module required.
    due = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()
    go(frame, "Requirements")
    group = requirement_group(frame, SLUG)
    group.get_by_label("Required").check()
    group.get_by_label("Due date").fill(due)
    frame.get_by_role("button", name="Save the requirements").click()
    expect(frame.get_by_role("status")).to_have_text(re.compile(r"Saved: 1 module changed"))
    expect(requirement_group(frame, SLUG).get_by_label("Due date")).to_have_value(due)
    filter_roster_by_module(frame, SLUG)
    expect(roster_table(frame).get_by_role("columnheader", name=re.compile(re.escape(title_of(SLUG))))
           ).to_contain_text(f"due {due}")
    for person, label in expected.items():
        expect(status_cell(frame, person)).to_have_text(label)

    # A waiver, with its reason, for the officer who never launched.
    reason = "Seconded to the federal task force; trained there (certificate on file)."
    grant_waiver(frame, a.never, WAIVED_IN_SCENARIO, reason)
    expect(waiver_row(frame, WAIVED_IN_SCENARIO)).to_contain_text("In force")
    modules_table = frame.get_by_role("table", name=re.compile("^Status, dates"))
    expect(modules_table.get_by_role("row").filter(has_text=title_of(WAIVED_IN_SCENARIO))).to_contain_text("Waived")

    # The audit trail records both changes, with who made them.
    go(frame, "Audit trail")
    trail = frame.get_by_role("table", name=re.compile("^Changes, newest first"))
    waived = trail.get_by_role("row").filter(has_text=reason)
    expect(waived).to_have_count(1)
    expect(waived).to_contain_text("Waiver granted")
    expect(waived).to_contain_text(coordinator.name)
    expect(waived).to_contain_text(a.never.name)
    required = trail.get_by_role("row").filter(has_text=f"due {due}")
    expect(required).to_have_count(1)
    expect(required).to_contain_text("Requirement changed")
    expect(required).to_contain_text(title_of(SLUG))

    go(frame, "Exports")
    rows = check_csv(download(page, frame, "CSV: one row per officer and module", "csv"), a, due)
    assert rows[(a.never.user_id, WAIVED_IN_SCENARIO)]["waiver_reason"] == reason
    assert coordinator.name in rows[(a.never.user_id, WAIVED_IN_SCENARIO)]["waived_by"]

    pdf = download(page, frame, "PDF report", "pdf")
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    assert pdf.rstrip().endswith(b"%%EOF")
    text = squash(pdf_text(pdf))
    assert f"Accreditation report: peer intervention training Course: {roster.COURSE_TITLE}" in text, text[:500]
    assert re.search(rf"Generated: \d{{4}}-\d\d-\d\d \d\d:\d\d UTC by {coordinator.name}", text), text[:800]
    for person in expected:
        assert person.name in text, f"{person.name} is not in the PDF's text: {text[:1000]}"


def check_csv(data: bytes, a: Activity, due: str) -> dict[tuple[str, str], dict[str, str]]:
    """Assert the CSV's header and the four officers' rows for the module; return the rows by account and module."""
    reader = csv.DictReader(data.decode("utf-8-sig").splitlines())
    # Every field GUIDE §7 asks for, per officer: identity, module and version, dates, minutes, score and
    # pass/fail, choices, policy acknowledgement, recertification, overdue, waiver.
    wanted = ["lms_account", "name", "agency_id", "module", "content_version", "status", "started_at",
              "completed_at", "minutes_credited", "best_score", "passed", "attempts", "policy_version_acknowledged",
              "policy_acknowledged_at", "due_date", "recertification_due", "overdue", "waiver_reason", "waived_by",
              "waived_at", "choices", "generated_at", "generated_by"]
    header = reader.fieldnames or []
    assert [name for name in header if name in wanted] == wanted, header
    rows = {(row["lms_account"], row["module"]): row for row in reader}
    mine = {who: rows[(who.user_id, SLUG)] for who in (a.passed, a.in_progress, a.failed, a.never)}
    assert {who.name: row["status"] for who, row in mine.items()} == {
        a.passed.name: "Passed", a.in_progress.name: "In progress", a.failed.name: "Failed",
        a.never.name: "Not started"}
    passed, failed, never = mine[a.passed], mine[a.failed], mine[a.never]
    assert (passed["passed"], float(passed["best_score"]), passed["completed_at"] != "") == ("yes", 1.0, True)
    assert (failed["passed"], float(failed["best_score"])) == ("no", 0.0)
    assert (never["attempts"], never["started_at"], never["best_score"]) == ("0", "", "")
    assert "(best)" in passed["choices"] and "(not best)" not in passed["choices"], passed["choices"]
    assert "(best)" not in failed["choices"] and "(not best)" in failed["choices"], failed["choices"]
    assert all(row["due_date"] == due and row["overdue"] == "no" for row in mine.values()), mine
    assert rows[(a.never.user_id, WAIVED_IN_SCENARIO)]["status"] == "Waived"
    return rows


def test_the_demo_lms_gradebook_shows_the_scores_received_through_ags(
        page: Page, server: Server, activity: Activity) -> None:
    a = activity
    open_course(page, server)
    gradebook = page.get_by_role("table", name="Latest score received from Upstander, per officer and column")
    headers = [squash(text) for text in gradebook.locator("thead th").all_inner_texts()]
    column = next((i for i, text in enumerate(headers) if text.startswith(title_of(SLUG))), None)
    assert column is not None, f"no gradebook column for {SLUG}: {headers}"

    def cell(person: roster.Person) -> Locator:
        row = gradebook.get_by_role("row").filter(has=page.get_by_role("rowheader", name=person.name, exact=True))
        return row.locator("th, td").nth(column)

    deadline = datetime.now(UTC) + timedelta(seconds=AGS_SECONDS)
    while "FullyGraded" not in cell(a.passed).inner_text() or "FullyGraded" not in cell(a.failed).inner_text():
        if datetime.now(UTC) > deadline:
            pytest.fail(f"the demo LMS got no score within {AGS_SECONDS} s:\n{server.log_tail()}")
        page.wait_for_timeout(1000)
        page.reload()
    given, maximum = score_in(cell(a.passed).inner_text())
    assert given == maximum > 0
    expect(cell(a.passed)).to_contain_text("Completed")
    assert score_in(cell(a.failed).inner_text())[0] == 0
    expect(cell(a.in_progress)).to_have_text("No score")
    expect(cell(a.never)).to_have_text("No score")

    # What was posted is visible in the tool's own gradebook too.
    frame = open_dashboard(page, server, roster.coordinator(), a.title)
    go(frame, "Gradebook")
    scores = frame.get_by_role("table", name=re.compile("^Scores"))
    for person in (a.passed, a.failed):
        row = scores.get_by_role("row").filter(has_text=person.name).filter(has_text=title_of(SLUG))
        expect(row).to_have_count(1)
        expect(row).to_contain_text("sent")
        expect(row).to_contain_text("HTTP 200")


def score_in(text: str) -> tuple[float, float]:
    found = re.match(r"\s*(\d+(?:\.\d+)?) / (\d+(?:\.\d+)?)", text)
    assert found, text
    return float(found.group(1)), float(found.group(2))


# --- axe-core on every screen -----------------------------------------------------------------------

def test_axe_on_the_overview_roster_officer_requirements_waivers_audit_and_policy(
        page: Page, server: Server, activity: Activity) -> None:
    frame = open_dashboard(page, server, roster.coordinator(), activity.title)
    assert_no_axe_violations(tool_document(page))

    filter_roster_by_module(frame, SLUG)
    frame.get_by_label("Status", exact=True).select_option("passed")
    frame.get_by_label("Name or LMS account").fill(activity.passed.family_name)
    frame.get_by_role("button", name="Apply").click()
    expect(frame.locator("#count")).to_have_text(re.compile(r"^1 officer found"))
    assert_no_axe_violations(tool_document(page))

    # The officer page with a waiver in force (and its revoke form) and every attempt unfolded.
    grant_waiver(frame, activity.failed, WAIVED_FOR_AXE, "On long-term medical leave until further notice.")
    go(frame, "Officers")
    roster_table(frame).get_by_role("link", name=activity.passed.name, exact=True).click()
    expect(frame.get_by_role("heading", level=1)).to_have_text(activity.passed.name)
    tool_document(page).evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    expect(frame.get_by_role("table", name="Choices made").first).to_be_visible()
    assert_no_axe_violations(tool_document(page))

    for label, heading in (("Requirements", "Requirements"), ("Waivers", "Waivers"), ("Audit trail", "Audit trail"),
                           ("Agency policy", "Your agency's Duty to Intervene policy")):
        go(frame, label)
        expect(frame.get_by_role("heading", level=1)).to_contain_text(heading)
        if label == "Waivers":
            expect(waiver_row(frame, WAIVED_FOR_AXE)).to_have_count(1)
        assert_no_axe_violations(tool_document(page))


def test_axe_on_the_reports_exports_accreditation_report_and_gradebook(
        page: Page, server: Server, activity: Activity) -> None:
    frame = open_dashboard(page, server, roster.coordinator(), activity.title)
    go(frame, "Where officers struggle")
    assert_no_axe_violations(tool_document(page))
    frame.get_by_label("Module").select_option(SLUG)
    frame.get_by_role("button", name="Show").click()
    expect(frame.get_by_role("heading", level=3).first).to_contain_text(title_of(SLUG))
    expect(frame.locator("svg").first).to_be_visible()
    assert_no_axe_violations(tool_document(page))

    go(frame, "Exports")
    assert_no_axe_violations(tool_document(page))
    frame.get_by_role("link", name=re.compile("^Printable report")).click()
    expect(frame.get_by_role("heading", level=1)).to_have_text("Accreditation report: peer intervention training")
    expect(frame.get_by_text(activity.passed.name).first).to_be_visible()
    assert_no_axe_violations(tool_document(page))

    frame.get_by_role("link", name="Back to exports").click()
    go(frame, "Gradebook")
    expect(frame.get_by_role("heading", level=2, name="Scores")).to_be_visible()
    assert_no_axe_violations(tool_document(page))


def test_axe_on_the_administrators_course_picker_and_a_learners_403(
        page: Page, server: Server, activity: Activity) -> None:
    admin = next(p for p in roster.ROSTER if roster.INSTITUTION_ADMIN in p.roles)
    frame = open_dashboard(page, server, admin, activity.title)
    go(frame, "Officers")
    sid, cid = ids(page)
    frame.get_by_role("link", name="All courses of your agency").click()
    expect(frame.get_by_role("heading", level=1)).to_have_text("Training coordinator — courses")
    expect(frame.get_by_role("link", name=roster.COURSE_TITLE)).to_be_visible()
    assert_no_axe_violations(tool_document(page))

    launch(page, server, activity.title, activity.passed)
    expect(tool(page).get_by_role("heading", level=1)).to_have_text(title_of(SLUG))
    learner_sid = re.search(r"/app/([^/]+)/", tool_document(page).url)
    assert learner_sid and learner_sid.group(1) != sid
    response = tool_document(page).goto(f"{server.tool_url}/app/{learner_sid.group(1)}/dashboard/{cid}/officers")
    assert response is not None and response.status == 403
    expect(tool(page).get_by_role("heading", level=1)).to_contain_text("403")
    expect(tool(page).get_by_role("table")).to_have_count(0)
    assert_no_axe_violations(tool_document(page))


# --- keyboard only ----------------------------------------------------------------------------------

def tab_to(page: Page, tag: str, name: str | None = None, element_id: str | None = None) -> dict[str, Any]:
    """The shared Tab walk, with more room (the dashboard has more controls) and visible focus required."""
    return pages.tab_to(page, tag, name, element_id=element_id, max_tabs=MAX_TABS, visible_focus=True)


def choose_with_arrows(page: Page, value: str) -> None:
    """Move a focused <select> to ``value`` with the arrow keys (no pop-up: the closed select changes)."""
    for _ in range(30):
        current = focused_in_tool(page) or {}
        assert current.get("tag") == "select", current
        if current["value"] == value:
            return
        page.keyboard.press("ArrowDown")
    pytest.fail(f"the arrow keys never reached {value!r}")


def test_filter_open_an_officer_waive_and_set_a_due_date_by_keyboard_only(
        browser: Browser, server: Server) -> None:
    # An explicit locale: the date field's segments (month/day/year) are typed in en-US order.
    ctx: BrowserContext = browser.new_context(locale="en-US")
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        run_keyboard_walk(ctx.new_page(), server)
    finally:
        ctx.close()


def run_keyboard_walk(page: Page, server: Server) -> None:
    officer = roster.learners()[3]
    frame = open_dashboard(page, server, roster.coordinator())

    # Filter the roster: search by name, members in the course now.
    tab_to(page, "a", name="Officers")
    page.keyboard.press("Enter")
    expect(frame.get_by_role("heading", level=1)).to_contain_text("Officers")
    tab_to(page, "input", name="Name or LMS account")
    page.keyboard.type(officer.family_name)
    tab_to(page, "select", name="Members")
    choose_with_arrows(page, "current")
    tab_to(page, "button", name="Apply")
    page.keyboard.press("Enter")
    expect(frame.locator("#count")).to_have_text(re.compile(r"^1 officer found"))
    expect(frame.get_by_label("Members")).to_have_value("current")

    # Open the officer.
    tab_to(page, "a", name=officer.name)
    page.keyboard.press("Enter")
    expect(frame.get_by_role("heading", level=1)).to_have_text(officer.name)

    # Grant a waiver: module by arrow keys, reason typed, the button pressed with Space.
    reason = "Assigned to the academy as an instructor of this module."
    tab_to(page, "select", element_id="w-module")
    choose_with_arrows(page, WAIVED_BY_KEYBOARD)
    tab_to(page, "textarea", element_id="w-reason")
    page.keyboard.type(reason)
    tab_to(page, "button", name="Grant the waiver")
    page.keyboard.press("Space")
    expect(waiver_row(frame, WAIVED_BY_KEYBOARD)).to_contain_text(reason)

    # Set a due date on the requirements page.
    due = datetime.now(UTC).date() + timedelta(days=200)
    tab_to(page, "a", name="Requirements")
    page.keyboard.press("Enter")
    expect(frame.get_by_role("heading", level=1)).to_contain_text("Requirements")
    field = tab_to(page, "input", element_id=f"due_date-{WAIVED_BY_KEYBOARD}")
    assert field["value"] != due.isoformat(), "the due date is already set: the save would change nothing"
    page.keyboard.type(due.strftime("%m%d%Y"))
    assert (focused_in_tool(page) or {}).get("value") == due.isoformat()
    tab_to(page, "button", name="Save the requirements")
    page.keyboard.press("Enter")
    expect(frame.get_by_role("status")).to_have_text(re.compile(r"Saved: 1 module changed"))
    expect(requirement_group(frame, WAIVED_BY_KEYBOARD).get_by_label("Due date")).to_have_value(due.isoformat())
