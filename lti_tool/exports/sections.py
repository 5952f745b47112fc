"""The sections of the printable report, as plain tables: the HTML template and the PDF render the same ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from lti_tool.services.compliance_rules import LABELS
from lti_tool.services.reports import AccreditationReport, OfficerModuleRecord


@dataclass(frozen=True)
class Section:
    """A titled table: the first column names the row (a row header)."""

    key: str
    title: str
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str = "None."


def text(value: object) -> str:
    """Return a value as the printed report shows it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{100 * value:.0f}%"
    return str(value)


def officer(r: OfficerModuleRecord) -> str:
    """Return how an officer is named: name, else the LMS account."""
    return r.name or r.account


def summary(report: AccreditationReport) -> tuple[tuple[str, str], ...]:
    """Return the report's heading facts as (label, value) pairs."""
    s = report.scope
    return (
        ("Course", f"{s.context_title or '—'} ({s.context_id or 'every course'})"),
        ("LMS", f"{s.issuer or '—'}, deployment {s.deployment_id or '—'}"),
        ("Period", f"{text(s.since)} to {text(s.until)} (end excluded)"),
        ("Status as of", text(report.as_of)),
        ("Officers", str(report.officers)),
        ("Modules passed", str(report.completions)),
        ("Hours credited", f"{report.minutes_credited / 60:.1f} ({report.minutes_credited} minutes)"),
        ("Overdue", str(len(report.overdue))),
        ("Generated", f"{text(s.generated_at)} by {s.generated_by}"),
        ("Source", s.source),
    )


def _modules(report: AccreditationReport) -> Section:
    rows = tuple((m.title, m.slug, ", ".join(map(str, m.versions)) or "—", "; ".join(m.objectives) or "—",
                  text(m.credit_minutes), text(m.required), text(m.due_date), f"{m.recert_months} months")
                 for m in report.modules)
    return Section("modules", "Modules, versions and objectives", "Modules in this report",
                   ("Module", "Id", "Content versions", "Objectives", "Credit minutes", "Required", "Due date",
                    "Recertification"), rows)


def _records(report: AccreditationReport) -> Section:
    rows = tuple((officer(r), r.account, r.agency_id or "—", r.module_title, text(r.content_version),
                  LABELS.get(r.status, r.status), text(r.started_at), text(r.completed_at), str(r.minutes_credited),
                  text(r.best_score), text(r.passed), str(r.attempts), text(r.recertification_due))
                 for r in report.records)
    return Section("records", "Roster and completions", "Each officer's record per module",
                   ("Officer", "LMS account", "Agency id", "Module", "Version", "Status", "Started", "Completed",
                    "Minutes credited", "Best score", "Passed", "Attempts", "Recertification due"), rows)


def _policy(report: AccreditationReport) -> Section:
    seen: dict[tuple[str, str], tuple[str, ...]] = {}
    for r in report.records:
        seen.setdefault((r.issuer, r.account), (officer(r), r.account, text(r.policy_version),
                                                text(r.policy_acknowledged_at)))
    return Section("policy", "Policy acknowledgements", "Duty to Intervene policy version acknowledged",
                   ("Officer", "LMS account", "Policy version", "Acknowledged at"), tuple(seen.values()))


def _waivers(report: AccreditationReport) -> Section:
    rows = tuple((officer(r), r.account, r.module_title, r.waiver_reason, r.waived_by, text(r.waived_at))
                 for r in report.records if r.waived_at is not None)
    return Section("waivers", "Waivers", "Waivers in force",
                   ("Officer", "LMS account", "Module", "Reason", "Granted by", "Granted at"), rows)


def _overdue(report: AccreditationReport) -> Section:
    rows = tuple((officer(r), r.account, r.module_title, text(r.due_date), text(r.recertification_due),
                  text(r.completed_at)) for r in report.overdue)
    return Section("overdue", "Overdue", "Officers overdue, per module",
                   ("Officer", "LMS account", "Module", "Due date", "Recertification due", "Last completed"), rows,
                   empty="No officer is overdue.")


def _audit(report: AccreditationReport) -> Section:
    rows = tuple((text(e.at), e.actor, e.action, e.details or "—") for e in report.audit)
    return Section("audit", "Audit trail", "Coordinator changes in the period",
                   ("When", "Who", "Change", "Details"), rows)


def sections(report: AccreditationReport) -> tuple[Section, ...]:
    """Return every section of the printable report, in order."""
    return (_modules(report), _records(report), _policy(report), _waivers(report), _overdue(report),
            _audit(report))
