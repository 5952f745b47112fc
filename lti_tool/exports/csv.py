"""The accreditation report as CSV: one row per officer and module with every field of GUIDE §7, streamed.

Cells are protected against formula injection (OWASP "CSV injection"): a value that a spreadsheet
would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a
leading ``'``. Names and reasons come from the LMS and coordinators, so nothing is trusted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from itertools import chain

from lti_tool.services.compliance_rules import LABELS
from lti_tool.services.reports import AccreditationReport, ChoiceMade, OfficerModuleRecord, ReportScope

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")

HEADER = (
    "lms_issuer", "lms_account", "name", "agency_id", "left_course_at", "module", "module_title",
    "content_version", "objectives", "status", "started_at", "completed_at", "minutes_credited", "best_score",
    "passed", "attempts", "policy_version_acknowledged", "policy_acknowledged_at", "due_date",
    "recertification_due", "overdue", "waiver_reason", "waived_by", "waived_at", "choices",
    "context_id", "range_since", "range_until", "generated_at", "generated_by",
)
CHOICE_HEADER = ("lms_issuer", "lms_account", "name", "module", "attempt", "decision", "stage", "tactic",
                 "target_rank", "choice", "choice_text", "best_choice", "answered_at")


def safe(value: object) -> str:
    """Return a cell's text, neutralised if a spreadsheet would read it as a formula."""
    text = _text(value)
    return "'" + text if text.startswith(DANGEROUS) else text


def _text(value: object) -> str:
    if type(value) is str:  # most cells: first, and cheapest (a whole course is millions of cells)
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, tuple):
        return " | ".join(_text(v) for v in value)
    return str(value)


def choice_summary(choice: ChoiceMade) -> str:
    """Return one choice as a compact text: attempt, decision, choice and whether it was the best one."""
    verdict = "" if choice.correct is None else (" (best)" if choice.correct else " (not best)")
    return f"a{choice.attempt} {choice.screen}={choice.choice}{verdict}"


def record_row(report: AccreditationReport, r: OfficerModuleRecord) -> list[object]:
    """Return the CSV cells of one record, in ``HEADER`` order."""
    return _row(report.scope, r)


def _row(scope: ReportScope, r: OfficerModuleRecord) -> list[object]:
    return [
        r.issuer, r.account, r.name, r.agency_id, r.left_at, r.module, r.module_title, r.content_version,
        r.objectives, LABELS.get(r.status, r.status), r.started_at, r.completed_at, r.minutes_credited,
        r.best_score, r.passed, r.attempts, r.policy_version, r.policy_acknowledged_at, r.due_date,
        r.recertification_due, r.overdue, r.waiver_reason, r.waived_by, r.waived_at,
        "; ".join(choice_summary(c) for c in r.choices), scope.context_id, scope.since, scope.until,
        scope.generated_at, scope.generated_by,
    ]


def _lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def stream(report: AccreditationReport) -> Iterator[str]:
    """Yield the CSV, a line at a time (a byte-order mark first, so spreadsheets read it as UTF-8)."""
    return stream_records(report.scope, report.records)


def stream_records(scope: ReportScope, records: Iterable[OfficerModuleRecord]) -> Iterator[str]:
    """Yield the CSV of records as they come (``reports_db.records``: a whole course in bounded memory)."""
    yield "\ufeff"
    yield from _lines(chain([HEADER], (_row(scope, r) for r in records)))


def stream_choices(report: AccreditationReport) -> Iterator[str]:
    """Yield the item-level detail as CSV: one row per answered decision."""
    yield "\ufeff"
    rows = ([r.issuer, r.account, r.name, r.module, c.attempt, c.screen, c.stage, c.tactic, c.rank, c.choice,
             c.choice_text, c.correct, c.answered_at] for r in report.records for c in r.choices)
    yield from _lines(chain([CHOICE_HEADER], rows))
