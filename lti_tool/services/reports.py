"""The accreditation report: one data structure, built from the database or from an LRS alone.

Both sources first gather the same *facts* (officers, their attempts and choices, acknowledgements,
waivers, the course's requirements, the modules); ``assemble`` then derives every figure the report
shows from those facts, so the two reports agree whenever their facts do. The date range is
``[since, until)``: an attempt counts when it started in the range; its completion, score and choices
count when they happened before ``until``; acknowledgements and audit events when they fall in the
range; a waiver when it was granted before ``until`` and is still in force. Status and overdue are
judged as of ``until`` (or now, if earlier). Times are kept to the millisecond (as statements carry them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lti_tool.models.compliance import DEFAULT_RECERT_MONTHS
from lti_tool.services import compliance_rules as r
from xapi.builders import Requirement


def ms(at: datetime) -> datetime:
    """Return a time truncated to the millisecond (statement timestamps carry no more)."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class ChoiceMade:
    """One answered decision (item level)."""

    attempt: int
    screen: str
    choice: str
    choice_text: str
    correct: bool | None
    stage: int
    tactic: str | None
    rank: str | None
    answered_at: datetime


@dataclass(frozen=True)
class AttemptFacts:
    """One attempt at a module as recorded."""

    number: int
    content_version: int
    started_at: datetime
    completed_at: datetime | None = None
    score: float | None = None
    passed: bool | None = None
    choices: tuple[ChoiceMade, ...] = ()


@dataclass(frozen=True)
class ModuleFacts:
    """A module as the report describes it."""

    slug: str
    title: str
    objectives: tuple[str, ...] = ()
    minutes: int | None = None


@dataclass(frozen=True)
class Acknowledgement:
    """The agency policy version an officer acknowledged, and when."""

    version: int
    title: str
    at: datetime


@dataclass(frozen=True)
class WaiverFacts:
    """A waiver in force: the module, the reason, who granted it and when."""

    module: str
    reason: str
    granted_by: str
    granted_at: datetime


@dataclass(frozen=True)
class OfficerFacts:
    """An officer (roster member or actor) and what they did in the range."""

    issuer: str
    account: str
    name: str = ""
    agency_id: str = ""
    left_at: datetime | None = None
    attempts: Mapping[str, Sequence[AttemptFacts]] = field(default_factory=dict)
    acknowledgement: Acknowledgement | None = None
    waivers: Mapping[str, WaiverFacts] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    """One coordinator change: when, who, what."""

    at: datetime
    actor: str
    action: str
    details: str


@dataclass(frozen=True)
class ReportScope:
    """Which course and range a report covers, and who asked for it."""

    issuer: str
    deployment_id: str
    context_id: str | None
    context_title: str
    since: datetime
    until: datetime
    generated_at: datetime
    generated_by: str
    source: str


@dataclass(frozen=True)
class ModuleEntry:
    """A module in the report, with the course's requirement for it."""

    slug: str
    title: str
    objectives: tuple[str, ...]
    minutes: int | None
    credit_minutes: int | None
    required: bool
    due_date: date | None
    recert_months: int
    versions: tuple[int, ...]


@dataclass(frozen=True)
class OfficerModuleRecord:
    """Everything GUIDE §7 asks for, for one officer and one module."""

    issuer: str
    account: str
    name: str
    agency_id: str
    module: str
    module_title: str
    content_version: int | None
    objectives: tuple[str, ...]
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    minutes_credited: int
    best_score: float | None
    passed: bool | None
    attempts: int
    policy_version: int | None
    policy_acknowledged_at: datetime | None
    due_date: date | None
    recertification_due: date | None
    overdue: bool
    waiver_reason: str
    waived_by: str
    waived_at: datetime | None
    left_at: datetime | None
    choices: tuple[ChoiceMade, ...]


@dataclass(frozen=True)
class AccreditationReport:
    """The report for one course and date range; rendered as CSV, HTML and PDF."""

    scope: ReportScope
    as_of: datetime
    modules: tuple[ModuleEntry, ...]
    records: tuple[OfficerModuleRecord, ...]
    audit: tuple[AuditEntry, ...]
    limitations: tuple[str, ...] = ()

    @property
    def overdue(self) -> tuple[OfficerModuleRecord, ...]:
        return tuple(r for r in self.records if r.overdue)

    @property
    def officers(self) -> int:
        return len({(r.issuer, r.account) for r in self.records})

    @property
    def completions(self) -> int:
        return sum(1 for r in self.records if r.passed)

    @property
    def minutes_credited(self) -> int:
        return sum(r.minutes_credited for r in self.records)


@dataclass(frozen=True)
class _Judgement:
    status: str
    due_date: date | None
    recertification_due: date | None
    overdue: bool


def judge(module: str, attempts: Sequence[AttemptFacts], requirement: Requirement | None, waived: bool,
          now: datetime) -> _Judgement:
    """Return an officer's status in a module as of ``now``, by the dashboard's rules (``compliance_rules``)."""
    rule = r.ModuleRule(module, bool(requirement and requirement.required), requirement.due_date if requirement
                        else None, requirement.recert_months if requirement else DEFAULT_RECERT_MONTHS, now)
    finished = [a for a in attempts if a.completed_at is not None]
    passed_at = max((a.completed_at for a in finished if a.passed and a.completed_at), default=None)
    done_at = max((a.completed_at for a in finished if a.passed is None and a.completed_at), default=None)
    failed_at = max((a.completed_at for a in finished if a.passed is False and a.completed_at), default=None)
    credit = passed_at or done_at
    recert = r.add_months(credit, rule.recert_months).date() if credit and rule.recert_months > 0 else None
    status = (
        r.WAIVED if waived
        else r.PASSED if passed_at and passed_at >= rule.window_start
        else r.COMPLETED if done_at and done_at >= rule.window_start
        else r.OVERDUE if rule.past_due or (rule.expired_is_overdue and credit is not None)
        else r.DUE_SOON if rule.due_soon
        else r.IN_PROGRESS if len(finished) < len(attempts)
        else r.FAILED if failed_at and failed_at >= rule.window_start
        else r.NOT_STARTED
    )
    return _Judgement(status, rule.due_date, recert, status == r.OVERDUE)


def _counting(attempts: Sequence[AttemptFacts]) -> AttemptFacts | None:
    """Return the attempt that counts: the latest pass, else the latest completed, else the latest started."""
    for group in ([a for a in attempts if a.passed and a.completed_at],
                  [a for a in attempts if a.completed_at is not None], list(attempts)):
        if group:
            return max(group, key=lambda a: a.number)
    return None


def _record(officer: OfficerFacts, module: ModuleFacts, requirement: Requirement | None,
            now: datetime) -> OfficerModuleRecord:
    attempts = list(officer.attempts.get(module.slug, ()))
    waiver = officer.waivers.get(module.slug)
    judged = judge(module.slug, attempts, requirement, waiver is not None, now)
    counting = _counting(attempts)
    scores = [a.score for a in attempts if a.completed_at is not None and a.score is not None]
    passed = any(a.passed for a in attempts if a.completed_at) if any(a.completed_at for a in attempts) else None
    credit = requirement.credit_minutes if requirement and requirement.credit_minutes is not None else module.minutes
    ack = officer.acknowledgement
    return OfficerModuleRecord(
        issuer=officer.issuer, account=officer.account, name=officer.name, agency_id=officer.agency_id,
        module=module.slug, module_title=module.title, objectives=module.objectives,
        content_version=counting.content_version if counting else None, status=judged.status,
        started_at=min((a.started_at for a in attempts), default=None),
        completed_at=counting.completed_at if counting else None,
        minutes_credited=(credit or 0) if passed else 0, best_score=max(scores, default=None), passed=passed,
        attempts=len(attempts), policy_version=ack.version if ack else None,
        policy_acknowledged_at=ack.at if ack else None, due_date=judged.due_date,
        recertification_due=judged.recertification_due, overdue=judged.overdue,
        waiver_reason=waiver.reason if waiver else "", waived_by=waiver.granted_by if waiver else "",
        waived_at=waiver.granted_at if waiver else None, left_at=officer.left_at,
        choices=tuple(c for a in sorted(attempts, key=lambda a: a.number) for c in a.choices),
    )


def _module_entry(module: ModuleFacts, requirement: Requirement | None, versions: set[int]) -> ModuleEntry:
    return ModuleEntry(
        slug=module.slug, title=module.title, objectives=module.objectives, minutes=module.minutes,
        credit_minutes=requirement.credit_minutes if requirement and requirement.credit_minutes is not None
        else module.minutes,
        required=bool(requirement and requirement.required), due_date=requirement.due_date if requirement else None,
        recert_months=requirement.recert_months if requirement else DEFAULT_RECERT_MONTHS,
        versions=tuple(sorted(versions)),
    )


def assemble(scope: ReportScope, modules: Mapping[str, ModuleFacts], requirements: Mapping[str, Requirement],
             officers: Sequence[OfficerFacts], audit: Sequence[AuditEntry],
             limitations: Sequence[str] = ()) -> AccreditationReport:
    """Derive the report from gathered facts: one record per officer and module (required, tried or waived)."""
    # Judged at the end of the range (its last instant), or now if the range has not ended.
    as_of = min(scope.until - timedelta(milliseconds=1), scope.generated_at)
    required = {slug for slug, r in requirements.items() if r.required}
    records: list[OfficerModuleRecord] = []
    versions: dict[str, set[int]] = {}
    for officer in sorted(officers, key=lambda o: (o.name.casefold(), o.account, o.issuer)):
        slugs = sorted(required | set(officer.attempts) | set(officer.waivers))
        for slug in slugs:
            module = modules.get(slug) or ModuleFacts(slug, slug)
            records.append(_record(officer, module, requirements.get(slug), as_of))
            versions.setdefault(slug, set()).update(a.content_version for a in officer.attempts.get(slug, ()))
    entries = tuple(_module_entry(modules.get(s) or ModuleFacts(s, s), requirements.get(s), versions.get(s, set()))
                    for s in sorted(required | set(versions)))
    return AccreditationReport(scope=scope, as_of=as_of, modules=entries, records=tuple(records),
                               audit=tuple(sorted(audit, key=lambda e: (e.at, e.action))),
                               limitations=tuple(limitations))
