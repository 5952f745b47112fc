"""GET /statements queries: filter parameters to SQL on the extracted columns, StatementRef matching, and
opaque ``more`` tokens that carry the filters and the position of the last statement returned."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, or_, select, true
from sqlalchemy.orm import Session

from xapi.lrs.auth import Principal
from xapi.lrs.http import LrsError, contains_nul, nul_refused
from xapi.lrs.statements import checks as c
from xapi.lrs.statements.models import (
    DIRECT,
    RELATED,
    StatementActivity,
    StatementAgent,
    StatementRefLink,
    StoredStatement,
)
from xapi.lrs.statements.shape import agent_key
from xapi.lrs.statements.validate import StatementValidator

T = cast(Table, StoredStatement.__table__)
AG = cast(Table, StatementAgent.__table__)
AC = cast(Table, StatementActivity.__table__)
REF = cast(Table, StatementRefLink.__table__)
MAX_LIMIT = 500
FILTERS = ("agent", "verb", "activity", "registration", "related_activities", "related_agents", "since", "until",
           "limit", "format", "attachments", "ascending")
FORMATS = ("exact", "ids", "canonical")


@dataclass
class Query:
    """A parsed statement query; ``after`` is the pk of the last statement already returned."""

    agent: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: str | None = None
    until: str | None = None
    limit: int = 0
    format: str = "exact"
    attachments: bool = False
    ascending: bool = False
    mine: int | None = None
    after: int | None = None

    def token(self, after: int) -> str:
        raw = json.dumps({**asdict(self), "after": after}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> Query:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return cls(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise LrsError(400, "the more token is not one this LRS issued", path="more", rule="opaque token") from exc


def _flag(params: dict[str, str], name: str) -> bool:
    value = params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise LrsError(400, f"{name} must be true or false", path=name, rule="boolean query parameter")
    return value == "true"


def parse(params: dict[str, str], principal: Principal, version: str) -> Query:
    """Turn query parameters into a Query, refusing malformed values with 400."""
    unknown = sorted(set(params) - set(FILTERS))
    if unknown:
        raise LrsError(400, f"unknown query parameter(s): {', '.join(unknown)}", path=unknown[0],
                       rule="not a parameter of the Statements resource")
    q = Query(related_activities=_flag(params, "related_activities"), related_agents=_flag(params, "related_agents"),
              attachments=_flag(params, "attachments"), ascending=_flag(params, "ascending"),
              mine=principal.client_id if principal.only_mine else None)
    if "agent" in params:
        q.agent = _agent_param(params["agent"], version)
    if "verb" in params:
        q.verb = c.iri(params["verb"], "verb")
    if "activity" in params:
        q.activity = c.iri(params["activity"], "activity")
    if "registration" in params:
        q.registration = c.uuid(params["registration"], "registration").lower()
    for name in ("since", "until"):
        if name in params:
            setattr(q, name, c.timestamp(params[name], name, "1.0.3").isoformat())
    q.limit = _limit(params.get("limit", "0"))
    q.format = params.get("format", "exact")
    if q.format not in FORMATS:
        raise LrsError(400, "format must be exact, ids or canonical", path="format", rule="one of exact|ids|canonical")
    return q


def _limit(value: str) -> int:
    if not (value.isascii() and value.isdigit()):  # str.isdigit() also accepts digits int() refuses, like "²"
        raise LrsError(400, "limit must be a non-negative integer", path="limit", rule="non-negative integer")
    return int(value)


def _agent_param(raw: str, version: str) -> str:
    try:
        agent = json.loads(raw)
    except ValueError as exc:
        raise LrsError(400, "agent must be a JSON Agent or Group", path="agent", rule="JSON object") from exc
    StatementValidator(version).actor(agent, "agent")
    if contains_nul(agent):
        raise nul_refused("agent")
    key = agent_key(agent)
    if key is None:
        raise LrsError(400, "agent must be identified by an IFI", path="agent", rule="an IFI is required")
    return key


def _filters(q: Query, s: Any) -> list[ColumnElement[bool]]:
    """Conditions of the non-time filters on statement table alias ``s``."""
    conds: list[ColumnElement[bool]] = []
    if q.agent is not None:
        scope = RELATED if q.related_agents else DIRECT
        conds.append(s.c.pk.in_(select(AG.c.statement_pk).where(AG.c.agent_key == q.agent, AG.c.scope == scope)))
    if q.verb is not None:
        conds.append(s.c.verb_id == q.verb)
    if q.activity is not None:
        scope = RELATED if q.related_activities else DIRECT
        conds.append(s.c.pk.in_(select(AC.c.statement_pk).where(AC.c.activity_id == q.activity, AC.c.scope == scope)))
    if q.registration is not None:
        conds.append(s.c.registration == q.registration)
    return conds


def run(session: Session, q: Query) -> tuple[list[dict[str, Any]], list[datetime], str | None]:
    """Return one page of statements (JSON as stored), their stored times, and the next ``more`` token or None."""
    stmt = _select(session, q)
    limit = min(q.limit or MAX_LIMIT, MAX_LIMIT)
    rows = session.execute(stmt.limit(limit + 1)).all()
    token = q.token(rows[limit - 1].pk) if len(rows) > limit else None
    rows = rows[:limit]
    return [row.data for row in rows], [row.stored for row in rows], token


def _select(session: Session, q: Query) -> Select[Any]:
    conds = _filters(q, T)
    where: list[ColumnElement[bool]] = [T.c.voided.is_(False)]
    if conds:
        where.append(_with_refs(session, q, and_(*conds)))
    if q.mine is not None:
        where.append(T.c.client_id == q.mine)
    if q.since:
        where.append(T.c.stored > datetime.fromisoformat(q.since))
    if q.until:
        where.append(T.c.stored <= datetime.fromisoformat(q.until))
    if q.after is not None:
        where.append(T.c.pk > q.after if q.ascending else T.c.pk < q.after)
    order = T.c.pk.asc() if q.ascending else T.c.pk.desc()
    return select(T.c.pk, T.c.data, T.c.stored).where(*where).order_by(order)


def _with_refs(session: Session, q: Query, direct: ColumnElement[bool]) -> ColumnElement[bool]:
    """Statements matching directly, or reaching a matching statement through StatementRefs (Communication 2.1.3).

    The referring statements are found first through the (small) link table, so the main query keeps using the
    filter's index."""
    target = T.alias("target")
    conds = _filters(q, target)
    sources = list(session.scalars(select(REF.c.source_pk).join(target, target.c.pk == REF.c.target_pk)
                                   .where(and_(*conds) if conds else true()).distinct()))
    return or_(direct, T.c.pk.in_(sources)) if sources else direct
