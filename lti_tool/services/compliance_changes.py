"""What a coordinator changes in a course: module requirements and waivers; each change audited.

API::

    set_requirements(session, context, actor, [RequirementInput, ...]) -> int        # how many changed
    grant_waiver(session, context, actor, user_pk, module, reason) -> Waiver         # + ``waived`` statement queued
    revoke_waiver(session, context, actor, waiver_id, reason) -> Waiver              # + voiding statement queued
    waivers(session, context_pk, *, user_pk=None) -> list[Waiver]                    # newest first, revoked ones too

``NotInCourse`` is raised for an officer or a waiver that is not this course's (the view answers 404);
``ChangeRefused`` for a change that makes no sense (an unknown module, a second waiver in force).
Statements go to the outbox in the caller's transaction, like every other statement.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.catalogue import by_slug
from lti_tool.content import get_content
from lti_tool.db import utcnow
from lti_tool.lti.roles import Role
from lti_tool.models import Deployment, LtiContext, LtiUser, Membership, ModuleRequirement, Waiver
from lti_tool.models.compliance import DEFAULT_RECERT_MONTHS
from lti_tool.services import compliance_audit as audit
from lti_tool.services import player
from xapi import builders_compliance as bc
from xapi import outbox, vocab
from xapi.builders import Course, Learner, ModuleRef, Requirement, StatementContext


class NotInCourse(LookupError):
    """The officer or waiver named is not part of this course."""


class ChangeRefused(ValueError):
    """The change cannot be made as asked."""


@dataclass(frozen=True)
class RequirementInput:
    """A coordinator's requirement for one module (``credit_minutes`` None: the module's own minutes)."""

    module: str
    required: bool
    due_date: date | None
    recert_months: int
    credit_minutes: int | None


def _as_dict(row: ModuleRequirement | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"required": row.required, "due_date": row.due_date.isoformat() if row.due_date else None,
            "recert_months": row.recert_months, "credit_minutes": row.credit_minutes}


def _is_default(item: RequirementInput) -> bool:
    return (not item.required and item.due_date is None and item.recert_months == DEFAULT_RECERT_MONTHS
            and item.credit_minutes is None)


def set_requirements(session: Session, context: LtiContext, actor: LtiUser | None,
                     wanted: list[RequirementInput]) -> int:
    """Store the course's requirements; audit each module whose requirement changed; return how many did."""
    stored = {r.module: r for r in session.scalars(
        select(ModuleRequirement).where(ModuleRequirement.context_pk == context.id))}
    changed = 0
    for item in wanted:
        if by_slug(item.module) is None:
            raise ChangeRefused(f"unknown module {item.module!r}")
        row = stored.get(item.module)
        before = _as_dict(row)
        if row is None and _is_default(item):
            continue  # nothing asked of this module: store nothing, audit nothing
        if row is None:
            row = ModuleRequirement(context_pk=context.id, module=item.module)
            session.add(row)
        row.required, row.due_date, row.recert_months, row.credit_minutes = (
            item.required, item.due_date, item.recert_months, item.credit_minutes)
        after = _as_dict(row)
        if after == before:
            continue
        row.updated_at, row.updated_by_pk = utcnow(), actor.id if actor else None
        audit.record(session, deployment_pk=context.deployment_pk, context_pk=context.id, actor=actor,
                     action=audit.REQUIREMENT_SET, details={"module": item.module, "before": before, "after": after})
        changed += 1
    session.flush()
    return changed


def _officer(session: Session, context: LtiContext, user_pk: int) -> LtiUser:
    member = session.scalar(select(Membership).where(
        Membership.context_pk == context.id, Membership.user_pk == user_pk, Membership.role == Role.LEARNER.value))
    user = session.get(LtiUser, user_pk) if member is not None else None
    if user is None or user.deployment_pk != context.deployment_pk:
        raise NotInCourse("no such officer in this course")
    return user


def grant_waiver(session: Session, context: LtiContext, actor: LtiUser | None, user_pk: int, module: str,
                 reason: str) -> Waiver:
    """Excuse an officer of this course from a module, with a reason; queue the ``waived`` statement."""
    officer = _officer(session, context, user_pk)
    if by_slug(module) is None:
        raise ChangeRefused(f"unknown module {module!r}")
    in_force = session.scalar(select(Waiver.id).where(
        Waiver.context_pk == context.id, Waiver.user_pk == user_pk, Waiver.module == module,
        Waiver.revoked_at.is_(None)))
    if in_force is not None:
        raise ChangeRefused("this officer already has a waiver for this module")
    now = utcnow()
    waiver = Waiver(context_pk=context.id, user_pk=user_pk, module=module, reason=reason,
                    created_by_pk=actor.id if actor else None, created_at=now, statement_id=str(uuid.uuid4()))
    session.add(waiver)
    session.flush()
    statement = bc.waived(_statement_context(session, context, officer, module, waiver), now, reason,
                          _coordinator(session, context, actor), statement_id=waiver.statement_id)
    _enqueue(session, context, [statement])
    audit.record(session, deployment_pk=context.deployment_pk, context_pk=context.id, actor=actor,
                 action=audit.WAIVER_GRANTED, details={"waiver": waiver.id, "officer": officer.sub,
                                                       "officer_name": officer.name, "module": module,
                                                       "reason": reason})
    return waiver


def revoke_waiver(session: Session, context: LtiContext, actor: LtiUser | None, waiver_id: int,
                  reason: str) -> Waiver:
    """Revoke a waiver of this course (it is kept, marked revoked); void its statement."""
    waiver = session.get(Waiver, waiver_id)
    if waiver is None or waiver.context_pk != context.id:
        raise NotInCourse("no such waiver in this course")
    if waiver.revoked_at is not None:
        raise ChangeRefused("this waiver was already revoked")
    now = utcnow()
    waiver.revoked_at, waiver.revoked_by_pk, waiver.revoke_reason = now, actor.id if actor else None, reason
    if waiver.statement_id:
        waiver.void_statement_id = str(uuid.uuid4())
        identified = _deployment(session, context).identify_learners_by_name
        _enqueue(session, context, [bc.voided(waiver.statement_id, now, _coordinator(session, context, actor),
                                              identify_by_name=identified, statement_id=waiver.void_statement_id)])
    audit.record(session, deployment_pk=context.deployment_pk, context_pk=context.id, actor=actor,
                 action=audit.WAIVER_REVOKED, details={"waiver": waiver.id, "officer": waiver.user.sub,
                                                       "officer_name": waiver.user.name, "module": waiver.module,
                                                       "reason": reason})
    session.flush()
    return waiver


def waivers(session: Session, context_pk: int, *, user_pk: int | None = None) -> list[Waiver]:
    """Return the course's waivers (in force and revoked), newest first; one officer's if ``user_pk``."""
    query = select(Waiver).where(Waiver.context_pk == context_pk)
    if user_pk is not None:
        query = query.where(Waiver.user_pk == user_pk)
    return list(session.scalars(query.order_by(Waiver.created_at.desc(), Waiver.id.desc())))


def _deployment(session: Session, context: LtiContext) -> Deployment:
    deployment = session.get(Deployment, context.deployment_pk)
    assert deployment is not None  # noqa: S101  (the foreign key guarantees it)
    return deployment


def _coordinator(session: Session, context: LtiContext, actor: LtiUser | None) -> bc.Coordinator:
    issuer = _deployment(session, context).platform.issuer
    if actor is None:
        # A change from the command line: the tool acted on the agency's instruction.
        return bc.Coordinator(issuer=issuer, sub="upstander-command-line", name="Upstander command line")
    return bc.Coordinator(issuer=issuer, sub=actor.sub, name=actor.name)


def _statement_context(session: Session, context: LtiContext, officer: LtiUser, module: str,
                       waiver: Waiver) -> StatementContext:
    deployment = _deployment(session, context)
    content = get_content()
    found = content.modules.get(module)
    reg = player.registration(session, officer, module)
    agency_id = session.scalar(select(Membership.agency_id).where(
        Membership.user_pk == officer.id, Membership.context_pk == context.id)) or ""
    reqs = tuple(Requirement(module=r.module, due_date=r.due_date, recert_months=r.recert_months,
                             credit_minutes=r.credit_minutes, required=r.required)
                 for r in session.scalars(select(ModuleRequirement).where(ModuleRequirement.context_pk == context.id)
                                          .order_by(ModuleRequirement.module)))
    return StatementContext(
        base_url=current_app.config["PUBLIC_URL"],
        learner=Learner(issuer=deployment.platform.issuer, sub=officer.sub, name=officer.name, email=officer.email,
                        identify_by_name=deployment.identify_learners_by_name, agency_id=agency_id),
        deployment_id=deployment.deployment_id, registration=reg.registration,
        # No launch made this statement: its session id is derived from the waiver, stable and unique.
        session_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{vocab.NS}/waivers/{waiver.statement_id}")),
        module=ModuleRef(slug=module, title=found.title if found else module, version=found.version if found else 0,
                         curriculum_id=content.curriculum.id, curriculum_title=content.curriculum.title,
                         objectives=found.objectives if found else (), minutes=found.minutes if found else None),
        course=Course(context.context_id, context.title), requirements=reqs,
    )


def _enqueue(session: Session, context: LtiContext, statements: list[dict[str, Any]]) -> None:
    deployment = _deployment(session, context)
    outbox.enqueue(session, statements, issuer=deployment.platform.issuer, deployment_id=deployment.deployment_id)
