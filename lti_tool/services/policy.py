"""The agency's own Duty to Intervene policy: versions published by coordinators, acknowledged by learners."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.db import utcnow
from lti_tool.models import AgencyPolicy, Attempt, LtiUser, PolicyAcknowledgement, ToolSession
from lti_tool.services import compliance_audit, statements


def current(session: Session, deployment_pk: int) -> AgencyPolicy | None:
    """Return the newest policy version of an agency (deployment), if one was attached."""
    return session.scalar(
        select(AgencyPolicy).where(AgencyPolicy.deployment_pk == deployment_pk)
        .order_by(AgencyPolicy.version.desc()).limit(1)
    )


def publish(session: Session, author: LtiUser, title: str, text: str) -> AgencyPolicy:
    """Store a new version of the author's agency policy; earlier versions and their acknowledgements stay."""
    newest = session.scalar(
        select(func.max(AgencyPolicy.version)).where(AgencyPolicy.deployment_pk == author.deployment_pk)
    )
    policy = AgencyPolicy(deployment_pk=author.deployment_pk, version=(newest or 0) + 1, title=title,
                          text=text, created_by_pk=author.id, created_at=utcnow())
    session.add(policy)
    session.flush()
    # A policy version belongs to the agency (deployment), not to one course: an agency-wide audit event.
    compliance_audit.record(session, deployment_pk=author.deployment_pk, context_pk=None, actor=author,
                            action=compliance_audit.POLICY_PUBLISHED,
                            details={"policy": policy.id, "version": policy.version, "title": title})
    return policy


def pending(session: Session, user: LtiUser) -> AgencyPolicy | None:
    """Return the current policy of the user's agency if the user has not acknowledged that version."""
    policy = current(session, user.deployment_pk)
    if policy is None:
        return None
    done = session.scalar(select(PolicyAcknowledgement.id).where(
        PolicyAcknowledgement.user_pk == user.id, PolicyAcknowledgement.policy_pk == policy.id))
    return None if done else policy


def acknowledge(session: Session, user: LtiUser, policy: AgencyPolicy, attempt: Attempt | None, *,
                via: ToolSession | None = None) -> PolicyAcknowledgement:
    """Record that the user acknowledged this policy version, now; queue its statement if made in a module."""
    ack = PolicyAcknowledgement(user_pk=user.id, policy_pk=policy.id, policy=policy,
                                attempt_pk=attempt.id if attempt else None, acknowledged_at=utcnow())
    session.add(ack)
    session.flush()
    # A statement needs a registration, which only an acknowledgement within a module attempt has.
    if via is not None and attempt is not None:
        statements.acknowledged(session, via, attempt, ack)
    return ack
