"""Gather the accreditation report's facts from the database, in a handful of set-based queries.

Officers are the course's learner members (from launches and the LMS roster), including those who
never launched and those who left (marked). Each query is scoped to those members and the range, so
the cost grows with the course, not with the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session, selectinload

from lti_tool.content import Content, DecisionScreen, get_content
from lti_tool.lti.roles import Role
from lti_tool.models import (
    AgencyPolicy,
    Attempt,
    DecisionRecord,
    Deployment,
    LtiContext,
    LtiUser,
    Membership,
    ModuleRegistration,
    PolicyAcknowledgement,
)
from lti_tool.models.compliance import AuditEvent, ModuleRequirement, Waiver
from lti_tool.services import compliance_audit as audit
from lti_tool.services.reports import (
    AccreditationReport,
    Acknowledgement,
    AttemptFacts,
    AuditEntry,
    ChoiceMade,
    ModuleFacts,
    OfficerFacts,
    OfficerModuleRecord,
    ReportScope,
    WaiverFacts,
    assemble,
    ms,
)
from xapi.builders import Requirement


def _members(context_pk: int) -> Select[int]:
    return select(Membership.user_pk).where(Membership.context_pk == context_pk,
                                            Membership.role == Role.LEARNER.value)


def _choice(content: Content, slug: str, number: int, d: Any) -> ChoiceMade:
    module = content.modules.get(slug)
    try:
        screen = module.screen(d.screen) if module else None
    except KeyError:
        screen = None
    text, correct = d.choice, None
    if isinstance(screen, DecisionScreen):
        best = [c.id for c in screen.choices if c.best]
        text = next((c.text for c in screen.choices if c.id == d.choice), d.choice)
        correct = (d.choice in best) if best else None
    return ChoiceMade(attempt=number, screen=d.screen, choice=d.choice, choice_text=text, correct=correct,
                      stage=d.stage, tactic=d.tactic, rank=d.rank, answered_at=ms(d.answered_at))


def _choices(session: Session, users: Select[int] | list[int], since: datetime, until: datetime,
             by_attempt: dict[int, tuple[str, int]]) -> dict[int, list[ChoiceMade]]:
    """Return the choices made before ``until`` in these officers' attempts started in the range (columns only)."""
    found: dict[int, list[ChoiceMade]] = {}
    content, d, a, reg = get_content(), DecisionRecord, Attempt, ModuleRegistration
    rows = session.execute(
        select(d.attempt_pk, d.screen, d.choice, d.stage, d.tactic, d.rank, d.answered_at)
        .join(a, a.id == d.attempt_pk).join(reg, reg.id == a.registration_pk)
        .where(reg.user_pk.in_(users), a.started_at >= since, a.started_at < until, d.answered_at < until)
        .order_by(d.id))
    for row in rows:
        module, number = by_attempt[row.attempt_pk]
        found.setdefault(row.attempt_pk, []).append(_choice(content, module, number, row))
    return found


def _attempts(session: Session, users: Select[int] | list[int], since: datetime, until: datetime,
              with_choices: bool = True) -> dict[int, dict[str, list[AttemptFacts]]]:
    """Return each officer's attempts started in the range, per module, with their choices (columns only)."""
    reg, a = ModuleRegistration, Attempt
    rows = session.execute(
        select(reg.user_pk, reg.module, a.id, a.number, a.content_version, a.started_at, a.completed_at, a.score,
               a.passed).join(a, a.registration_pk == reg.id)
        .where(reg.user_pk.in_(users), a.started_at >= since, a.started_at < until)
        .order_by(a.id)
    ).all()
    by_attempt = {row.id: (row.module, row.number) for row in rows}
    choices = _choices(session, users, since, until, by_attempt) if with_choices and by_attempt else {}
    found: dict[int, dict[str, list[AttemptFacts]]] = {}
    for row in rows:
        done = row.completed_at is not None and row.completed_at < until
        found.setdefault(row.user_pk, {}).setdefault(row.module, []).append(AttemptFacts(
            number=row.number, content_version=row.content_version, started_at=ms(row.started_at),
            completed_at=ms(row.completed_at) if done and row.completed_at else None,
            score=round(row.score, 4) if done and row.score is not None else None,
            passed=row.passed if done else None, choices=tuple(choices.get(row.id, ()))))
    return found


def _acknowledgements(session: Session, users: Select[int] | list[int], since: datetime,
                      until: datetime) -> dict[int, Acknowledgement]:
    """Return each member's latest policy acknowledgement in the range."""
    rows = session.execute(
        select(PolicyAcknowledgement.user_pk, AgencyPolicy.version, AgencyPolicy.title,
               PolicyAcknowledgement.acknowledged_at)
        .join(AgencyPolicy, AgencyPolicy.id == PolicyAcknowledgement.policy_pk)
        .where(PolicyAcknowledgement.user_pk.in_(users),
               PolicyAcknowledgement.acknowledged_at >= since, PolicyAcknowledgement.acknowledged_at < until)
        .order_by(PolicyAcknowledgement.acknowledged_at)
    ).all()
    return {user_pk: Acknowledgement(version, title, ms(at)) for user_pk, version, title, at in rows}


def _waivers(session: Session, context_pk: int, until: datetime,
             users: list[int] | None = None) -> dict[int, dict[str, WaiverFacts]]:
    found: dict[int, dict[str, WaiverFacts]] = {}
    query = select(Waiver).where(Waiver.context_pk == context_pk, Waiver.revoked_at.is_(None),
                                 Waiver.created_at < until).options(selectinload(Waiver.created_by))
    if users is not None:
        query = query.where(Waiver.user_pk.in_(users))
    for w in session.scalars(query.order_by(Waiver.id)):
        found.setdefault(w.user_pk, {})[w.module] = WaiverFacts(w.module, w.reason, audit.actor_label(w.created_by),
                                                                ms(w.created_at))
    return found


def _details(details: dict[str, Any]) -> str:
    return "; ".join(f"{key}: {value}" for key, value in sorted(details.items()))


def _audit(session: Session, context: LtiContext, since: datetime, until: datetime) -> list[AuditEntry]:
    rows = session.scalars(select(AuditEvent).where(
        AuditEvent.deployment_pk == context.deployment_pk,
        (AuditEvent.context_pk == context.id) | AuditEvent.context_pk.is_(None),
        AuditEvent.created_at >= since, AuditEvent.created_at < until).order_by(AuditEvent.created_at))
    return [AuditEntry(ms(e.created_at), e.actor_label, audit.ACTION_LABELS.get(e.action, e.action),
                       _details(e.details)) for e in rows]


def requirements(session: Session, context_pk: int) -> dict[str, Requirement]:
    """Return the requirements the coordinator set for a course, by module."""
    rows = session.scalars(select(ModuleRequirement).where(ModuleRequirement.context_pk == context_pk))
    return {q.module: Requirement(q.module, q.due_date, q.recert_months, q.credit_minutes, q.required) for q in rows}


def module_facts(content: Content) -> dict[str, ModuleFacts]:
    """Return every served module as the report describes it."""
    return {m.slug: ModuleFacts(m.slug, m.title, m.objectives, m.minutes) for m in content.modules.values()}


@dataclass(frozen=True)
class _Member:
    user_pk: int
    sub: str
    name: str
    agency_id: str
    left_at: datetime | None


def _member_rows(session: Session, context_pk: int) -> list[_Member]:
    """Return the course's officers (a few columns each), in the report's order (as ``assemble`` sorts)."""
    rows = session.execute(
        select(LtiUser.id, LtiUser.sub, LtiUser.name, Membership.agency_id, Membership.left_at)
        .join(Membership, Membership.user_pk == LtiUser.id)
        .where(Membership.context_pk == context_pk, Membership.role == Role.LEARNER.value))
    found = [_Member(pk, sub, name, agency or "", left) for pk, sub, name, agency, left in rows]
    return sorted(found, key=lambda m: (m.name.casefold(), m.sub))


def _facts(session: Session, context: LtiContext, issuer: str, members: list[_Member], since: datetime,
           until: datetime, with_choices: bool, whole_course: bool) -> list[OfficerFacts]:
    """Return these officers' facts; ``whole_course``: they are all of the course's (no long IN lists)."""
    users: Select[int] | list[int] = _members(context.id) if whole_course else [m.user_pk for m in members]
    attempts = _attempts(session, users, since, until, with_choices)
    acks = _acknowledgements(session, users, since, until)
    waivers = _waivers(session, context.id, until, None if whole_course else [m.user_pk for m in members])
    return [OfficerFacts(issuer=issuer, account=m.sub, name=m.name, agency_id=m.agency_id,
                         left_at=ms(m.left_at) if m.left_at else None, attempts=attempts.get(m.user_pk, {}),
                         acknowledgement=acks.get(m.user_pk), waivers=waivers.get(m.user_pk, {}))
            for m in members]


def _officers(session: Session, context: LtiContext, issuer: str, since: datetime, until: datetime,
              with_choices: bool) -> list[OfficerFacts]:
    return _facts(session, context, issuer, _member_rows(session, context.id), since, until, with_choices, True)


def _deployment(session: Session, context: LtiContext) -> Deployment:
    deployment = session.get(Deployment, context.deployment_pk)
    assert deployment is not None  # noqa: S101  (a foreign key)
    return deployment


def _scope(session: Session, context: LtiContext, since: datetime, until: datetime, generated_at: datetime,
           generated_by: str) -> ReportScope:
    deployment = _deployment(session, context)
    return ReportScope(issuer=deployment.platform.issuer, deployment_id=deployment.deployment_id,
                       context_id=context.context_id, context_title=context.title or context.label,
                       since=since, until=until, generated_at=generated_at, generated_by=generated_by,
                       source="database")


def build(session: Session, context: LtiContext, since: datetime, until: datetime, *, generated_at: datetime,
          generated_by: str, with_choices: bool = True) -> AccreditationReport:
    """Build the accreditation report of a course for ``[since, until)`` from the database.

    ``with_choices`` False leaves out the item-level choices (the printable reports do not list them).
    """
    scope = _scope(session, context, since, until, generated_at, generated_by)
    return assemble(scope, module_facts(get_content()), requirements(session, context.id),
                    _officers(session, context, scope.issuer, since, until, with_choices),
                    _audit(session, context, since, until))


def batches(session: Session, context: LtiContext, since: datetime, until: datetime, *, generated_at: datetime,
            generated_by: str, batch: int = 500) -> tuple[ReportScope, Iterator[tuple[OfficerModuleRecord, ...]]]:
    """Return the report's scope and its records, read ``batch`` officers at a time as they are consumed.

    Concatenated, the batches are ``build(...).records``, in the same order; for exports of a whole large
    course, in bounded memory (a 10,000-officer course's report held whole is hundreds of MB). Each batch
    is read by its own queries: the caller may end the transaction between batches.
    """
    scope = _scope(session, context, since, until, generated_at, generated_by)
    modules, reqs = module_facts(get_content()), requirements(session, context.id)
    members = _member_rows(session, context.id)

    def generate() -> Iterator[tuple[OfficerModuleRecord, ...]]:
        for start in range(0, len(members), batch):
            if session.get_bind().dialect.name == "postgresql":
                # The batch queries differ only in their officer ids: after five runs of a prepared statement
                # PostgreSQL may switch to a generic plan, ~20x slower here for an IN list of 500 ids.
                session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            facts = _facts(session, context, scope.issuer, members[start:start + batch], since, until, True, False)
            # assemble sorts the batch as _member_rows sorted the whole: batches concatenate in report order.
            yield assemble(scope, modules, reqs, facts, ()).records

    return scope, generate()
