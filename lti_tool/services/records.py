"""Keep users, courses, resource links and memberships up to date from launch claims."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.db import utcnow
from lti_tool.lti import claims as c
from lti_tool.lti.roles import role_for
from lti_tool.models import Deployment, LtiContext, LtiUser, Membership, ResourceLink

T = TypeVar("T")


def record_people(
    session: Session, deployment: Deployment, token_claims: dict[str, Any]
) -> tuple[LtiUser, LtiContext | None, ResourceLink | None]:
    """Upsert the user, course, resource link and membership a launch names, scoped to its deployment."""
    user = _user(session, deployment, token_claims)
    context = _context(session, deployment, token_claims)
    link = _link(session, deployment, context, token_claims)
    if context is not None:
        _membership(session, user, context, token_claims.get(c.ROLES, []))
    session.flush()
    return user, context, link


def _user(session: Session, deployment: Deployment, token_claims: dict[str, Any]) -> LtiUser:
    sub = str(token_claims["sub"])
    user = find_or_add(session, select(LtiUser).where(LtiUser.deployment_pk == deployment.id, LtiUser.sub == sub),
                        lambda: LtiUser(deployment_pk=deployment.id, sub=sub))
    user.name = str(token_claims.get("name") or _joined_name(token_claims) or user.name or "")[:255]
    user.email = str(token_claims.get("email") or user.email or "")[:255]
    user.last_launch_at = utcnow()
    session.flush()
    return user


def _joined_name(token_claims: dict[str, Any]) -> str:
    parts = (token_claims.get("given_name"), token_claims.get("family_name"))
    return " ".join(str(p) for p in parts if p)


def _context(
    session: Session, deployment: Deployment, token_claims: dict[str, Any]
) -> LtiContext | None:
    claim = token_claims.get(c.CONTEXT)
    if not isinstance(claim, dict):
        return None
    context_id = str(claim["id"])
    stmt = select(LtiContext).where(
        LtiContext.deployment_pk == deployment.id, LtiContext.context_id == context_id
    )
    context = find_or_add(session, stmt, lambda: LtiContext(deployment_pk=deployment.id, context_id=context_id))
    context.title = str(claim.get("title") or context.title or "")[:255]
    context.label = str(claim.get("label") or context.label or "")[:255]
    services = {k: token_claims[k] for k in (c.AGS_ENDPOINT, c.NRPS) if isinstance(token_claims.get(k), dict)}
    if services:
        context.services = services
    nrps = token_claims.get(c.NRPS)
    if isinstance(nrps, dict) and nrps.get("context_memberships_url"):
        context.memberships_url = str(nrps["context_memberships_url"])[:1024]
    session.flush()
    return context


def _link(
    session: Session, deployment: Deployment, context: LtiContext | None, token_claims: dict[str, Any]
) -> ResourceLink | None:
    claim = token_claims.get(c.RESOURCE_LINK)
    if not isinstance(claim, dict) or not claim.get("id"):
        return None
    link_id = str(claim["id"])
    stmt = select(ResourceLink).where(
        ResourceLink.deployment_pk == deployment.id, ResourceLink.resource_link_id == link_id
    )
    link = find_or_add(session, stmt, lambda: ResourceLink(deployment_pk=deployment.id, resource_link_id=link_id))
    link.context_pk = context.id if context else link.context_pk
    link.title = str(claim.get("title") or link.title or "")[:255]
    custom = token_claims.get(c.CUSTOM)
    if isinstance(custom, dict) and custom.get("module"):
        link.module = str(custom["module"])[:128]
    _ags(link, token_claims.get(c.AGS_ENDPOINT))
    return link


def _ags(link: ResourceLink, claim: Any) -> None:
    # Each launch states what the platform grants now; a line item the tool created itself
    # (the claim then names none) is kept.
    if not isinstance(claim, dict):
        return
    scope = claim.get("scope")
    link.ags_scopes = [str(s) for s in scope][:20] if isinstance(scope, list) else []
    link.lineitems_url = str(claim["lineitems"])[:1024] if claim.get("lineitems") else None
    if claim.get("lineitem"):
        link.lineitem_url = str(claim["lineitem"])[:1024]


def _membership(session: Session, user: LtiUser, context: LtiContext, lis_roles: list[str]) -> None:
    stmt = select(Membership).where(Membership.user_pk == user.id, Membership.context_pk == context.id)
    role = role_for(lis_roles).value
    membership = find_or_add(session, stmt, lambda: Membership(user_pk=user.id, context_pk=context.id, role=role))
    membership.role = role
    membership.lis_roles = [str(r) for r in lis_roles][:50]
    membership.updated_at = utcnow()
    # A launch from the course proves membership now: someone marked as left is back (roster, issue 6).
    membership.active, membership.left_at = True, None


def find_or_add(session: Session, query: Select[T], make: Callable[[], T]) -> T:
    """Return the row ``query`` finds, else add ``make()``.

    A course's first launches often arrive together (roll call), on several workers or instances: the
    second insert of the same course, link or user waits for the first and then violates the unique
    key. The insert runs in a savepoint, so that loser finds the winner's row instead of failing.
    """
    found = session.scalar(query)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = make()
            session.add(row)
        return row
    except IntegrityError:
        found = session.scalar(query)
        if found is None:
            raise
        return found
