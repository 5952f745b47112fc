"""Canonical activity definitions (merged from every statement that defines an activity) and GET /activities."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from flask import Blueprint, Response
from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from xapi.lrs.http import LrsError, db, json_response, require, xreq
from xapi.lrs.statements.models import CanonicalActivity

A = cast(Table, CanonicalActivity.__table__)
LANGUAGE_MAPS = ("name", "description")


def merge_definition(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Merge a newer definition into the canonical one: language maps and extensions key by key, the rest
    replaced by the newer value (so every language any statement gave survives)."""
    merged = dict(old)
    for key, value in new.items():
        if key in (*LANGUAGE_MAPS, "extensions") and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def merge(session: Session, activities: list[dict[str, Any]], now: datetime) -> None:
    """Fold the definitions in ``activities`` (activity objects) into the canonical table, one query per batch."""
    incoming: dict[str, list[dict[str, Any]]] = {}
    for activity in activities:
        if activity.get("definition"):
            incoming.setdefault(activity["id"], []).append(activity["definition"])
    if not incoming:
        return
    found = session.execute(select(A.c.activity_id, A.c.definition).where(A.c.activity_id.in_(list(incoming))))
    existing = {row.activity_id: row.definition for row in found}
    inserts, updates = [], []
    for activity_id, definitions in incoming.items():
        merged = existing.get(activity_id, {})
        for definition in definitions:
            merged = merge_definition(merged, definition)
        if activity_id not in existing:
            inserts.append({"activity_id": activity_id, "definition": merged, "updated": now})
        elif merged != existing[activity_id]:
            updates.append((activity_id, merged))
    if inserts:
        # Another request may define the same new activity at the same moment: the later merge wins.
        stmt = upsert(session, A)
        session.execute(stmt.on_conflict_do_update(index_elements=[A.c.activity_id],
                                                   set_={"definition": stmt.excluded.definition,
                                                         "updated": stmt.excluded.updated}), inserts)
    for activity_id, definition in updates:
        session.execute(update(A).where(A.c.activity_id == activity_id).values(definition=definition, updated=now))


def upsert(session: Session, table: Table) -> Any:
    """An INSERT that can say ON CONFLICT, in the dialect of the session's database (PostgreSQL or SQLite)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def canonical_definitions(session: Session, ids: set[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = session.execute(select(A.c.activity_id, A.c.definition).where(A.c.activity_id.in_(list(ids))))
    return {row.activity_id: row.definition for row in rows}


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/activities", "activities", activities_view, methods=["GET", "POST"])


def activities_view() -> Response:
    xr = xreq()
    if xr.method != "GET":
        raise LrsError(405, "the Activities resource only answers GET")
    require("all/read", "statements/read", "statements/read/mine", "define", "profile", "state")
    activity_id = xr.params.get("activityId")
    if not activity_id:
        raise LrsError(400, "activityId is required", path="activityId", rule="required query parameter")
    from xapi.lrs.statements.checks import is_iri

    if not is_iri(activity_id):
        raise LrsError(400, "activityId must be an IRI", path="activityId", rule="must be an absolute IRI")
    definition = canonical_definitions(db(), {activity_id}).get(activity_id)
    body: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        body["definition"] = definition
    return json_response(body)
