"""Keep a course's roster in step with the LMS (Names and Role Provisioning Services).

API::

    sync(session, http, context, *, now, actor=None) -> SyncResult          # fetch every page, apply, record
    sync_if_stale(session, http, context, *, now, max_age_minutes) -> SyncResult | None   # None: fresh enough
    apply_members(session, context, members, *, now) -> SyncResult          # the roster as listed (tests, CLI)
    last_sync(session, context_pk) -> RosterSync | None

Members the LMS lists become officers (``Membership`` with source "nrps") even if they never launched,
so they count as not started. Members it no longer lists, or lists as Inactive/Deleted, are marked as
left (``active`` false, ``left_at``), never deleted; a later listing or launch brings them back. A sync
that fails (the LMS refuses, times out, sends nonsense) changes no member: the failure is recorded on
``RosterSync`` and shown, and nothing else in the request is lost (the sync runs in a savepoint).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.lti import nrps
from lti_tool.lti.roles import role_for
from lti_tool.models import Deployment, LtiContext, LtiUser, Membership, RosterSync
from lti_tool.services import compliance_audit as audit

# IN lists are sent in chunks of this many (SQLite allows a few thousand parameters per statement).
CHUNK = 500


@dataclass(frozen=True)
class SyncResult:
    """What a sync did (or why it could not)."""

    ok: bool
    members: int = 0
    joined: int = 0
    left: int = 0
    error: str | None = None


def last_sync(session: Session, context_pk: int) -> RosterSync | None:
    """Return the record of the course's latest sync attempt, if any."""
    return session.get(RosterSync, context_pk)


def _name(member: nrps.Member) -> str:
    return (member.name or " ".join(p for p in (member.given_name, member.family_name) if p))[:255]


def _users(session: Session, deployment_pk: int, members: Sequence[nrps.Member], now: datetime) -> dict[str, LtiUser]:
    subs = [m.user_id for m in members]
    found: dict[str, LtiUser] = {}
    for start in range(0, len(subs), CHUNK):
        chunk = subs[start:start + CHUNK]
        found.update((u.sub, u) for u in session.scalars(
            select(LtiUser).where(LtiUser.deployment_pk == deployment_pk, LtiUser.sub.in_(chunk))))
    for member in members:
        user = found.get(member.user_id)
        if user is None:
            # Never launched: last_launch_at must hold a time, and the first sighting is the honest one.
            user = LtiUser(deployment_pk=deployment_pk, sub=member.user_id[:255], created_at=now, last_launch_at=now)
            session.add(user)
            found[member.user_id] = user
        user.name = _name(member) or user.name
        user.email = member.email[:255] or user.email
    session.flush()
    return found


def apply_members(session: Session, context: LtiContext, members: Sequence[nrps.Member], *,
                  now: datetime) -> SyncResult:
    """Make the course's memberships match this complete listing of its members."""
    users = _users(session, context.deployment_pk, members, now)
    existing = {m.user_pk: m for m in session.scalars(select(Membership).where(Membership.context_pk == context.id))}
    listed: set[int] = set()
    joined = left = 0
    for member in members:
        user = users[member.user_id]
        listed.add(user.id)
        row = existing.get(user.id)
        if row is None:
            row = Membership(user_pk=user.id, context_pk=context.id, source="nrps", active=False, updated_at=now,
                             role=role_for(member.roles).value, lis_roles=list(member.roles)[:50])
            session.add(row)
        elif member.roles:
            row.role, row.lis_roles = role_for(member.roles).value, list(member.roles)[:50]
        still = member.status == nrps.ACTIVE
        joined += int(still and not row.active)
        left += int(row.active and not still)
        row.active, row.synced_at = still, now
        row.left_at = None if still else (row.left_at or now)
    for user_pk, row in existing.items():
        if user_pk not in listed and row.active:
            row.active, row.left_at, left = False, now, left + 1
    session.flush()
    return SyncResult(ok=True, members=len(members), joined=joined, left=left)


def _record(session: Session, context: LtiContext, result: SyncResult, now: datetime) -> None:
    row = session.get(RosterSync, context.id)
    if row is None:
        row = RosterSync(context_pk=context.id)
        session.add(row)
    row.attempted_at, row.ok, row.error = now, result.ok, result.error
    if result.ok:
        row.synced_at, row.members, row.joined, row.left = now, result.members, result.joined, result.left
    session.flush()


def sync(session: Session, http: httpx.Client, context: LtiContext, *, now: datetime,
         actor: LtiUser | None = None) -> SyncResult:
    """Fetch the course's members from the LMS and apply them; record the outcome (failures too)."""
    url = nrps.memberships_url(context)
    if url is None:
        result = SyncResult(ok=False, error="The LMS offers no roster service (NRPS) for this course.")
    else:
        deployment = session.get(Deployment, context.deployment_pk)
        assert deployment is not None  # noqa: S101  (the foreign key guarantees it)
        result = _fetch_and_apply(session, http, deployment, context, url, now)
    _record(session, context, result, now)
    if result.ok and (result.joined or result.left or actor is None):
        audit.record(session, deployment_pk=context.deployment_pk, context_pk=context.id, actor=actor,
                     action=audit.ROSTER_SYNCED,
                     details={"members": result.members, "joined": result.joined, "left": result.left})
    return result


def _fetch_and_apply(session: Session, http: httpx.Client, deployment: Deployment, context: LtiContext, url: str,
                     now: datetime) -> SyncResult:
    # Fetch before writing anything: on SQLite the LMS answering from this process (the demo LMS) must be
    # able to store its token while we wait. Then apply in a savepoint, so a clash with a concurrent sync
    # (two coordinators landing at once) loses only this sync, not the page.
    try:
        members = nrps.fetch_members(session, http, deployment, url)
    except nrps.ServiceError as exc:
        return SyncResult(ok=False, error=f"The LMS roster could not be read: {exc}")
    try:
        with session.begin_nested():
            return apply_members(session, context, members, now=now)
    except IntegrityError:
        return SyncResult(ok=False, error="Another roster sync of this course ran at the same time; try again.")


def sync_if_stale(session: Session, http: httpx.Client, context: LtiContext, *, now: datetime,
                  max_age_minutes: float, actor: LtiUser | None = None) -> SyncResult | None:
    """Sync unless the last attempt (successful or not) is younger than ``max_age_minutes``; None if skipped."""
    row = last_sync(session, context.id)
    if row is not None and row.attempted_at > now - timedelta(minutes=max_age_minutes):
        return None
    return sync(session, http, context, now=now, actor=actor)
