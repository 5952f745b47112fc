"""Compliance status of a course's officers, per module and overall, aggregated in SQL.

API summary (every function takes the session first, is scoped to one course and never commits)::

    requirements(session, context_pk) -> list[Requirement]          # every catalogue module, defaults filled in
    officer_status(session, context_pk, *, now, sort="name", descending=False, status=None, module=None,
                   search="", roster="all", page=1, per_page=50) -> Page[OfficerRow]
    officer(session, context_pk, user_pk, *, now) -> OfficerRow | None   # one officer of this course, else None
    iter_officers(session, context_pk, *, now, roster="all", batch=500) -> Iterator[OfficerRow]   # for exports
    context_summary(session, context_pk, *, now) -> Summary        # counts per module and status, overall counts

Statuses (``compliance_rules.STATUSES``, most severe first): overdue, due_soon, failed, not_started,
in_progress, completed, passed, waived. The rules (``compliance_rules.status_case``):

- waived: a waiver in force for the officer and module in this course (overrides everything);
- passed / completed: passed (or, for a module without a verdict, completed) within the
  recertification interval (``recert_months``, default 12: an annual refresher) — this counts;
- overdue: a required module, not counted as above, past its due date (overdue from the day after the
  due date, UTC); without a due date, once the officer's last completion has expired;
- due_soon: a required module, not counted, due within ``DUE_SOON_DAYS`` (30) days;
- in_progress: an attempt is open; failed: the latest verdict within the interval was a fail;
- not_started: nothing in the interval (roster members who never launched are here).

An officer is a learner member of the course (from a launch or from the LMS roster, NRPS); members
who left are kept and marked (``left_at``). ``OfficerRow.overall`` is the most severe status among the
required modules (all modules when none is required). Page 1 is two queries (the page of officers,
then their registrations' progress summaries), whatever the page size and the number of officers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from lti_tool.catalogue import modules as catalogue
from lti_tool.lti.roles import Role
from lti_tool.models import LtiUser, Membership, ModuleRequirement
from lti_tool.models.compliance import DEFAULT_RECERT_MONTHS
from lti_tool.services import compliance_rules as r
from lti_tool.services.compliance_rules import DUE_SOON_DAYS, LABELS, STATUSES, add_months
from lti_tool.services.compliance_types import ModuleStatus, OfficerRow, Page, Requirement, Summary

__all__ = ["DUE_SOON_DAYS", "LABELS", "STATUSES", "ModuleStatus", "OfficerRow", "Page", "Requirement", "Summary",
           "context_summary", "iter_officers", "officer", "officer_status", "requirements"]

SORTS = ("name", "sub", "status")
ROSTERS = ("all", "current", "left")


def requirements(session: Session, context_pk: int) -> list[Requirement]:
    """Return the course's requirement for every catalogue module, in curriculum order."""
    stored = {row.module: row for row in session.scalars(
        select(ModuleRequirement).where(ModuleRequirement.context_pk == context_pk))}
    found = []
    for entry in catalogue():
        row = stored.get(entry.slug)
        found.append(Requirement(
            module=entry.slug, title=entry.title, required=row.required if row else False,
            due_date=row.due_date if row else None,
            recert_months=row.recert_months if row else DEFAULT_RECERT_MONTHS,
            credit_minutes=row.credit_minutes if row and row.credit_minutes is not None else entry.minutes,
            module_minutes=entry.minutes, configured=row is not None,
        ))
    return found


def _rules(reqs: list[Requirement], now: datetime) -> list[r.ModuleRule]:
    return [r.ModuleRule(q.module, q.required, q.due_date, q.recert_months, now) for q in reqs]


def _concern(rules: list[r.ModuleRule], module: str | None) -> list[r.ModuleRule]:
    """Return the modules an overall status (or a filter on one module) looks at."""
    if module is not None:
        return [rule for rule in rules if rule.module == module]
    return [rule for rule in rules if rule.required] or rules


def _officers(context_pk: int, search: str, roster: str) -> Select[Any]:
    m = Membership
    query = select(m.user_pk).where(m.context_pk == context_pk, m.role == Role.LEARNER.value)
    if roster == "current":
        query = query.where(m.active.is_(True))
    elif roster == "left":
        query = query.where(m.active.is_(False))
    if search.strip():
        needle = f"%{search.strip().lower()}%"
        query = query.join(LtiUser, LtiUser.id == m.user_pk).where(
            or_(func.lower(LtiUser.name).like(needle), func.lower(LtiUser.sub).like(needle)))
    return query


def _worst(context_pk: int, rules: list[r.ModuleRule], users: Select[Any]) -> Select[Any]:
    """Return (user_pk, most severe status rank) for the officers over the given modules."""
    people = users.subquery("people")
    totals = r.attempt_totals(select(people.c.user_pk), modules=[rule.module for rule in rules], light=True)
    table, waivers = r.rules_table(rules), r.active_waivers(context_pk)
    rank = r.status_case(table, totals, waivers)
    return (
        select(people.c.user_pk, func.min(rank).label("worst"))
        .select_from(people).join(table, literal(True))
        .outerjoin(totals, (totals.c.user_pk == people.c.user_pk) & (totals.c.module == table.c.module))
        .outerjoin(waivers, (waivers.c.user_pk == people.c.user_pk) & (waivers.c.module == table.c.module))
        .group_by(people.c.user_pk)
    )


@dataclass(frozen=True)
class _Cell:
    rank: int
    attempts: int
    started_at: datetime | None
    last_activity_at: datetime | None
    completed_at: datetime | None
    passed_at: datetime | None
    done_at: datetime | None
    best_score: float | None
    seconds: int
    waiver_id: int | None


def _cells(session: Session, context_pk: int, rules: list[r.ModuleRule],
           user_pks: list[int]) -> dict[tuple[int, str], _Cell]:
    """Return the status rank and aggregates of every (officer, module) cell for these officers."""
    if not user_pks:
        return {}
    table, totals, waivers = r.rules_table(rules), r.attempt_totals(user_pks), r.active_waivers(context_pk)
    people = select(LtiUser.id.label("user_pk")).where(LtiUser.id.in_(user_pks)).subquery("people")
    t = totals.c
    query = (
        select(people.c.user_pk, table.c.module, r.status_case(table, totals, waivers).label("rank"), t.attempts,
               t.started_at, t.last_activity_at, t.completed_at, t.passed_at, t.done_at, t.best_score, t.seconds,
               waivers.c.waiver_id)
        .select_from(people).join(table, literal(True))
        .outerjoin(totals, (t.user_pk == people.c.user_pk) & (t.module == table.c.module))
        .outerjoin(waivers, (waivers.c.user_pk == people.c.user_pk) & (waivers.c.module == table.c.module))
    )
    return {(row.user_pk, row.module): _Cell(
        rank=int(row.rank), attempts=int(row.attempts or 0), started_at=row.started_at,
        last_activity_at=row.last_activity_at, completed_at=row.completed_at, passed_at=row.passed_at,
        done_at=row.done_at, best_score=row.best_score, seconds=int(row.seconds or 0), waiver_id=row.waiver_id,
    ) for row in session.execute(query)}


def _module_status(req: Requirement, cell: _Cell) -> ModuleStatus:
    credit = cell.passed_at or cell.done_at
    expires = add_months(credit, req.recert_months).date() if credit is not None and req.recert_months > 0 else None
    return ModuleStatus(
        module=req.module, status=STATUSES[cell.rank], required=req.required, attempts=cell.attempts,
        started_at=cell.started_at, last_activity_at=cell.last_activity_at, completed_at=cell.completed_at,
        passed_at=cell.passed_at, best_score=cell.best_score, seconds_on_task=cell.seconds,
        due_date=req.due_date, recert_due=expires, waiver_id=cell.waiver_id,
    )


_MEMBER_COLUMNS = (LtiUser.id, LtiUser.name, LtiUser.sub, LtiUser.email, Membership.agency_id, Membership.source,
                   Membership.active, Membership.left_at)


def _rows(session: Session, context_pk: int, reqs: list[Requirement], now: datetime,
          members: list[tuple[Any, ...]]) -> list[OfficerRow]:
    """Return the officer rows for these members (in this order), with their cells from one query."""
    rules = _rules(reqs, now)
    cells = _cells(session, context_pk, rules, [m[0] for m in members])
    concern = {rule.module for rule in _concern(rules, None)}
    rows = []
    for user_pk, name, sub, email, agency_id, source, active, left_at in members:
        statuses = {q.module: _module_status(q, cells[(user_pk, q.module)]) for q in reqs}
        worst = min((r.RANK[statuses[m].status] for m in concern), default=r.RANK[r.NOT_STARTED])
        rows.append(OfficerRow(user_pk=user_pk, name=name, sub=sub, email=email, agency_id=agency_id,
                               source=source, active=active, left_at=left_at, overall=STATUSES[worst],
                               modules=statuses))
    return rows


def officer_status(session: Session, context_pk: int, *, now: datetime, sort: str = "name", descending: bool = False,
                   status: str | None = None, module: str | None = None, search: str = "", roster: str = "all",
                   page: int = 1, per_page: int = 50) -> Page[OfficerRow]:
    """Return one page of the course's officers with their status in every module.

    ``sort``: "name", "sub" or "status" (most severe first; of ``module`` if given, else overall).
    ``status`` keeps officers in that status (in ``module`` if given, else overall); ``search`` matches
    name or LMS account (case-insensitive substring); ``roster``: "all", "current" or "left".
    """
    if sort not in SORTS or roster not in ROSTERS or (status is not None and status not in STATUSES):
        raise ValueError("unknown sort, roster or status")
    reqs = requirements(session, context_pk)
    if module is not None and module not in {q.module for q in reqs}:
        raise ValueError(f"unknown module {module!r}")
    users = _officers(context_pk, search, roster)
    query = select(*_MEMBER_COLUMNS, func.count().over().label("total")).join(
        Membership, (Membership.user_pk == LtiUser.id) & (Membership.context_pk == context_pk)
    ).where(LtiUser.id.in_(users))
    first: ColumnElement[Any] = LtiUser.sub if sort == "sub" else func.lower(LtiUser.name)  # type: ignore[assignment]
    order: list[ColumnElement[Any]] = [first, LtiUser.sub]  # type: ignore[list-item]
    if status is not None or sort == "status":
        worst = _worst(context_pk, _concern(_rules(reqs, now), module), users).subquery("worst")
        query = query.join(worst, worst.c.user_pk == LtiUser.id)
        if status is not None:
            query = query.where(worst.c.worst == r.RANK[status])
        if sort == "status":
            order = [worst.c.worst, *order]
    page, per_page = max(1, page), max(1, min(per_page, 500))
    ordered = [o.desc() for o in order] if descending else order
    found = session.execute(query.order_by(*ordered, LtiUser.id).limit(per_page).offset((page - 1) * per_page)).all()
    total = int(found[0].total) if found else _count(session, query)
    members = [tuple(row[:-1]) for row in found]
    return Page(items=_rows(session, context_pk, reqs, now, members), total=total, page=page, per_page=per_page)


def _count(session: Session, query: Select[*tuple[Any, ...]]) -> int:
    # Only reached for an empty page (none match, or past the end): the window count came back with no rows.
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _members_query(context_pk: int) -> Select[int, str, str, str, str | None, str, bool, datetime | None]:
    return select(*_MEMBER_COLUMNS).join(Membership, Membership.user_pk == LtiUser.id).where(
        Membership.context_pk == context_pk, Membership.role == Role.LEARNER.value)


def officer(session: Session, context_pk: int, user_pk: int, *, now: datetime) -> OfficerRow | None:
    """Return one officer of this course with their statuses; None if they are not an officer of it."""
    member = session.execute(_members_query(context_pk).where(LtiUser.id == user_pk)).first()
    if member is None:
        return None
    return _rows(session, context_pk, requirements(session, context_pk), now, [tuple(member)])[0]


def iter_officers(session: Session, context_pk: int, *, now: datetime, roster: str = "all",
                  batch: int = 500) -> Iterator[OfficerRow]:
    """Yield every officer of the course by name, ``batch`` at a time (two queries a batch), for exports."""
    reqs = requirements(session, context_pk)
    query = _members_query(context_pk)
    if roster != "all":
        query = query.where(Membership.active.is_(roster == "current"))
    last: tuple[str, int] | None = None
    while True:
        page = query.order_by(func.lower(LtiUser.name), LtiUser.id)
        if last is not None:
            # Keyset paging: no OFFSET scans over a 10,000-officer course.
            name = func.lower(LtiUser.name)
            page = page.where(or_(name > last[0], and_(name == last[0], LtiUser.id > last[1])))
        members: list[tuple[Any, ...]] = [tuple(m) for m in session.execute(page.limit(batch))]
        if not members:
            return
        yield from _rows(session, context_pk, reqs, now, members)
        last = (str(members[-1][1]).lower(), int(members[-1][0]))


def context_summary(session: Session, context_pk: int, *, now: datetime) -> Summary:
    """Return how many current officers are in each status, per module and overall."""
    reqs = requirements(session, context_pk)
    rules = _rules(reqs, now)
    current = _officers(context_pk, "", "current")
    people = current.subquery("people")
    table, waivers = r.rules_table(rules), r.active_waivers(context_pk)
    totals = r.attempt_totals(select(people.c.user_pk), light=True)
    rank = r.status_case(table, totals, waivers).label("rank")
    cells = (
        select(table.c.module, rank, func.count().label("n")).select_from(people).join(table, literal(True))
        .outerjoin(totals, (totals.c.user_pk == people.c.user_pk) & (totals.c.module == table.c.module))
        .outerjoin(waivers, (waivers.c.user_pk == people.c.user_pk) & (waivers.c.module == table.c.module))
        .group_by(table.c.module, rank)
    )
    by_module: dict[str, dict[str, int]] = {q.module: dict.fromkeys(STATUSES, 0) for q in reqs}
    for module, rank_value, n in session.execute(cells):
        by_module[module][STATUSES[int(rank_value)]] = int(n)
    worst = _worst(context_pk, _concern(rules, None), current).subquery("worst")
    overall = dict.fromkeys(STATUSES, 0)
    for rank_value, n in session.execute(select(worst.c.worst, func.count()).group_by(worst.c.worst)):
        overall[STATUSES[int(rank_value)]] = int(n)
    left = session.scalar(select(func.count()).select_from(_officers(context_pk, "", "left").subquery())) or 0
    return Summary(officers=sum(overall.values()), left=int(left), by_module=by_module, overall=overall,
                   requirements=reqs)
