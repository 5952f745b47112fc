"""Storing statements: one Core bulk insert per table per batch (not an ORM flush per statement), voiding,
StatementRef links, immutability (identical duplicates accepted, different ones refused with 409)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from psycopg import sql
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xapi.db import utcnow
from xapi.lrs.auth import Principal
from xapi.lrs.http import LrsError
from xapi.lrs.statements import activities
from xapi.lrs.statements.checks import format_timestamp, parse_timestamp
from xapi.lrs.statements.models import StatementActivity, StatementAgent, StatementRefLink, StoredStatement
from xapi.lrs.statements.shape import (
    activities_with_definitions,
    agent_key,
    comparable,
    mentioned_activities,
    mentioned_agents,
    object_columns,
)
from xapi.lrs.statements.validate import VOIDED

T = cast(Table, StoredStatement.__table__)


@dataclass
class Prepared:
    """A validated statement completed with what the LRS sets, and its extracted columns."""

    data: dict[str, Any]
    row: dict[str, Any]
    new: bool = True


def prepare(st: dict[str, Any], principal: Principal, version: str, now: datetime) -> Prepared:
    """Complete a statement (id, stored, authority, version, timestamp) and compute its columns."""
    data = dict(st)
    data.setdefault("id", str(uuid.uuid4()))
    data["stored"] = format_timestamp(now)
    data["authority"] = principal.authority
    _arrays_of_context_activities(data)
    data.setdefault("version", "2.0.0" if version == "2.0.0" else "1.0.0")
    if "timestamp" in data:
        if version == "2.0.0":  # 2.0: timestamps are stored in UTC
            data["timestamp"] = format_timestamp(parse_timestamp(data["timestamp"]))
    else:
        data["timestamp"] = data["stored"]
    kind, key, ref = object_columns(data)
    voiding = data["verb"]["id"] == VOIDED
    row = {
        "id": data["id"].lower(), "stored": now, "verb_id": data["verb"]["id"], "actor_key": agent_key(data["actor"]),
        "object_type": kind, "object_key": key, "object_ref": ref,
        "registration": (data.get("context", {}).get("registration") or "").lower() or None,
        "voided": False, "voiding": voiding, "authority_key": agent_key(principal.authority),
        "client_id": principal.client_id, "data": data,
    }
    return Prepared(data, row)


def _arrays_of_context_activities(data: dict[str, Any]) -> None:
    """Context activities are always stored (and returned) as arrays, even when one object was sent."""
    obj = data["object"]
    for part in [data] + ([obj] if obj.get("objectType") == "SubStatement" else []):
        found = part.get("context", {}).get("contextActivities")
        if found:
            part["context"] = {**part["context"], "contextActivities": {
                key: value if isinstance(value, list) else [value] for key, value in found.items()}}


def store(session: Session, statements: list[dict[str, Any]], principal: Principal, version: str) -> list[str]:
    """Store a batch atomically; return the ids in order."""
    now = utcnow()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the column equals the JSON's ms precision
    batch = [prepare(st, principal, version, now) for st in statements]
    ids = [item.row["id"] for item in batch]
    if len(set(ids)) != len(ids):
        raise LrsError(400, "the batch holds two statements with the same id", path="$[*].id",
                       rule="statement ids must be unique within a batch")
    _skip_existing(session, batch)
    fresh = [item for item in batch if item.new]
    if fresh:
        _check_voiding(session, fresh)
        try:
            _insert(session, fresh)
        except IntegrityError as exc:  # a concurrent request stored one of these ids first
            raise LrsError(409, "a statement with one of these ids was stored concurrently; retry to compare",
                           path="$.id", rule="statement ids are unique") from exc
        activities.merge(session, [a for item in fresh for a in activities_with_definitions(item.data)], now)
    return [item.data["id"] for item in batch]


def _skip_existing(session: Session, batch: list[Prepared]) -> None:
    """Mark statements already stored: identical ones are skipped, different ones are a 409 conflict."""
    by_id = {item.row["id"]: item for item in batch}
    rows = session.execute(select(T.c.id, T.c.data).where(T.c.id.in_(list(by_id)))).all()
    for stored_id, stored_data in rows:
        item = by_id[stored_id]
        if comparable(stored_data) != comparable(item.data):
            raise LrsError(409, f"statement {stored_id} exists with different content; statements are immutable",
                           path="$.id", rule="a statement id can only be reused for the same statement")
        item.new = False


def _check_voiding(session: Session, fresh: list[Prepared]) -> None:
    """A voiding statement may not target a voiding statement (xAPI Data 2.3.2)."""
    targets = {item.row["object_ref"] for item in fresh if item.row["voiding"]}
    if not targets:
        return
    voiding_targets = set(session.scalars(select(T.c.id).where(T.c.id.in_(targets), T.c.voiding.is_(True))))
    voiding_targets |= {item.row["id"] for item in fresh if item.row["voiding"] and item.row["id"] in targets}
    if voiding_targets:
        raise LrsError(400, "a voiding statement cannot void another voiding statement", path="$.object.id",
                       rule="voiding statements cannot be voided")


def _insert(session: Session, fresh: list[Prepared]) -> None:
    pks = session.execute(insert(T).returning(T.c.pk, sort_by_parameter_order=True),
                          [item.row for item in fresh]).scalars().all()
    agents = [{"statement_pk": pk, "agent_key": key, "scope": scope}
              for pk, item in zip(pks, fresh, strict=True) for key, scope in mentioned_agents(item.data)]
    acts = [{"statement_pk": pk, "activity_id": key, "scope": scope}
            for pk, item in zip(pks, fresh, strict=True) for key, scope in mentioned_activities(item.data)]
    _insert_index_rows(session, cast(Table, StatementAgent.__table__), ("statement_pk", "agent_key", "scope"), agents)
    _insert_index_rows(session, cast(Table, StatementActivity.__table__), ("statement_pk", "activity_id", "scope"),
                       acts)
    # One query finds every stored statement whose object is one of the new ones: voiding ones (which
    # void a new statement stored after them) and StatementRefs (whose chains now reach further).
    referrers = session.execute(select(T.c.pk, T.c.id, T.c.voiding, T.c.object_ref)
                                .where(T.c.object_ref.in_([item.row["id"] for item in fresh]))).all()
    _apply_voiding(session, fresh, referrers)
    _link_refs(session, {pk for pk, item in zip(pks, fresh, strict=True) if item.row["object_ref"] is not None},
               referrers)


def _insert_index_rows(session: Session, table: Table, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Insert a batch's query-index rows (several per statement). On PostgreSQL they go in one COPY,
    which costs the server far less per row than an executemany of INSERTs."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    raw = connection.connection.driver_connection  # psycopg's own connection, in this transaction
    if raw is None:
        raise RuntimeError("the database connection is closed")
    with raw.cursor() as cursor, cursor.copy(
            sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
        for row in rows:
            copy.write_row([row[name] for name in columns])


def _apply_voiding(session: Session, fresh: list[Prepared], referrers: Sequence[Any]) -> None:
    """Void the targets of new voiding statements, and new statements that an earlier voiding one targets."""
    targets = [item.row["object_ref"] for item in fresh if item.row["voiding"]]
    if targets:
        session.execute(update(T).where(T.c.id.in_(targets), T.c.voiding.is_(False)).values(voided=True))
    plain = {item.row["id"] for item in fresh if not item.row["voiding"]}
    voided = {row.object_ref for row in referrers if row.voiding and row.object_ref in plain}
    if voided:
        session.execute(update(T).where(T.c.id.in_(voided)).values(voided=True))


def _link_refs(session: Session, pending: set[int], referrers: Sequence[Any]) -> None:
    """Record which statements reach which others through StatementRefs (recursively), for query matching.

    Only statements whose chain can have changed are recomputed: new statements with a StatementRef object
    (``pending``), and statements (transitively) referring to a new one, starting from ``referrers``.
    StatementRefs are rare, so this stays small and usually costs no query at all.
    """
    rows: Sequence[Any] = referrers
    while rows:
        fresh = {row.pk for row in rows} - pending
        pending |= fresh
        frontier = {row.id for row in rows if row.pk in fresh}
        rows = session.execute(select(T.c.pk, T.c.id).where(T.c.object_ref.in_(frontier))).all() if frontier else []
    for pk in pending:
        _relink(session, pk)


def _relink(session: Session, source_pk: int) -> None:
    """Rewrite the StatementRef chain rows of one statement."""
    targets: list[int] = []
    ref = session.scalar(select(T.c.object_ref).where(T.c.pk == source_pk))
    while ref is not None:
        target = session.execute(select(T.c.pk, T.c.object_ref).where(T.c.id == ref)).first()
        if target is None or target.pk in targets or target.pk == source_pk:
            break
        targets.append(target.pk)
        ref = target.object_ref
    session.execute(delete(StatementRefLink).where(StatementRefLink.source_pk == source_pk))
    if targets:
        session.execute(insert(StatementRefLink), [{"source_pk": source_pk, "target_pk": pk} for pk in targets])
