"""The document resources' rules (xAPI 1.0.3 Communication §2.2-2.7, 2.0 §4.1.6.2-4.1.6.6), storage-side.

PUT replaces, POST merges JSON objects one level deep, DELETE removes; ETags (quoted SHA-1 of the content)
give optimistic concurrency through If-Match / If-None-Match. Functions take the session and never commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xapi.db import utcnow
from xapi.lrs.document_models import LrsDocument
from xapi.lrs.http import LrsError

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Scope:
    """Where a document lives: the resource and the parameters other than the document id."""

    kind: str
    activity_id: str | None = None
    agent: str | None = None  # canonical identifier, agent_param.ifi_key
    registration: str | None = None

    @property
    def key(self) -> str:
        raw = json.dumps([self.kind, self.activity_id, self.agent, self.registration], ensure_ascii=False)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Incoming:
    """A document sent by a client."""

    content: bytes
    content_type: str

    @property
    def is_json(self) -> bool:
        return self.content_type.split(";")[0].strip().lower() == JSON_TYPE


@dataclass(frozen=True)
class Preconditions:
    """The request's If-Match / If-None-Match headers, and what a PUT with neither may do.

    ``blind_put``: "allow" (1.0.3 State may be overwritten without them), "conflict" (409 over an existing
    document: 2.0, every document resource) or "refuse" (1.0.3 profiles: 409 over an existing document,
    400 otherwise, since 1.0.3 requires clients to send one of the headers there).
    """

    if_match: str | None = None
    if_none_match: str | None = None
    blind_put: str = "conflict"

    @property
    def blind(self) -> bool:
        return self.if_match is None and self.if_none_match is None


def _doc_key(doc_id: str) -> str:
    return hashlib.sha256(doc_id.encode("utf-8")).hexdigest()


def etag_of(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()  # noqa: S324  (the spec's ETag algorithm, not a security use)


def get(session: Session, scope: Scope, doc_id: str, for_update: bool = False) -> LrsDocument | None:
    query = select(LrsDocument).where(LrsDocument.scope_key == scope.key, LrsDocument.doc_key == _doc_key(doc_id))
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def list_ids(session: Session, scope: Scope, since: datetime | None) -> tuple[list[str], datetime | None]:
    """Return the ids in a scope (only those updated after ``since``) and the newest update time among them."""
    query = select(LrsDocument.doc_id, LrsDocument.updated).where(LrsDocument.scope_key == scope.key)
    if since is not None:
        query = query.where(LrsDocument.updated > since)
    rows = session.execute(query.order_by(LrsDocument.updated, LrsDocument.id)).all()
    return [row.doc_id for row in rows], (rows[-1].updated if rows else None)


def _tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/").strip('"') for tag in header.split(",") if tag.strip()}


def check_preconditions(existing: LrsDocument | None, pre: Preconditions) -> None:
    """Apply If-Match / If-None-Match (RFC 7232 §3.1-3.2): 412 when they do not hold."""
    if pre.if_match is not None:
        tags = _tags(pre.if_match)
        if existing is None or ("*" not in tags and existing.etag not in tags):
            raise LrsError(412, "If-Match does not match the document's current ETag", rule="If-Match")
    if pre.if_none_match is not None and existing is not None:
        tags = _tags(pre.if_none_match)
        if "*" in tags or existing.etag in tags:
            raise LrsError(412, "If-None-Match: the document already exists", rule="If-None-Match")


def put(session: Session, scope: Scope, doc_id: str, doc: Incoming, pre: Preconditions) -> LrsDocument:
    """Store a document, replacing any at the same place."""
    existing = get(session, scope, doc_id, for_update=True)
    check_preconditions(existing, pre)
    if pre.blind and existing is not None and pre.blind_put != "allow":
        raise LrsError(409, "this document exists: send If-Match with its ETag to replace it", rule="concurrency")
    if pre.blind and pre.blind_put == "refuse":
        raise LrsError(400, "a PUT to this resource needs If-Match (with the ETag) or If-None-Match: *",
                       path="If-None-Match", rule="concurrency")
    return _store(session, scope, doc_id, existing, doc.content, doc.content_type)


def post(session: Session, scope: Scope, doc_id: str, doc: Incoming, pre: Preconditions) -> LrsDocument:
    """Merge a JSON object into the stored one (top-level properties), or store it if there is none."""
    existing = get(session, scope, doc_id, for_update=True)
    check_preconditions(existing, pre)
    incoming = _json_object(doc.content, "the posted document") if doc.is_json else None
    if existing is None:
        return _store(session, scope, doc_id, None, doc.content, doc.content_type)
    if incoming is None:
        raise LrsError(400, "POST merges JSON: the posted document must have Content-Type application/json",
                       path="Content-Type", rule="merge needs JSON objects")
    if not Incoming(existing.content, existing.content_type).is_json:
        raise LrsError(400, "POST merges JSON: the stored document is not application/json; PUT to replace it",
                       rule="merge needs JSON objects")
    merged = _json_object(existing.content, "the stored document")
    merged.update(incoming)
    content = json.dumps(merged, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _store(session, scope, doc_id, existing, content, JSON_TYPE)


def _json_object(content: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise LrsError(400, f"{what} is not valid JSON: {exc}", rule="merge needs JSON objects") from exc
    if not isinstance(value, dict):
        raise LrsError(400, f"{what} is JSON but not an object; POST merges objects only",
                       rule="merge needs JSON objects")
    return value


def _store(session: Session, scope: Scope, doc_id: str, existing: LrsDocument | None, content: bytes,
           content_type: str) -> LrsDocument:
    row = existing or LrsDocument(kind=scope.kind, scope_key=scope.key, doc_key=_doc_key(doc_id), doc_id=doc_id,
                                  activity_id=scope.activity_id, agent=scope.agent, registration=scope.registration)
    row.content, row.content_type, row.etag = content, content_type[:255], etag_of(content)
    row.updated = _after(existing.updated if existing is not None else None)
    if existing is None:
        session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # another request created it between our read and our insert
        raise LrsError(409, "the document was created by another request at the same time; retry",
                       rule="concurrency") from exc
    return row


def _after(previous: datetime | None) -> datetime:
    # Keep ``updated`` strictly increasing per document, so ``since`` and Last-Modified always see a change.
    now = utcnow()
    return now if previous is None else max(now, previous + timedelta(microseconds=1))


def delete_one(session: Session, scope: Scope, doc_id: str, pre: Preconditions) -> None:
    """Delete one document (deleting an absent one is not an error unless If-Match asks for it)."""
    existing = get(session, scope, doc_id, for_update=True)
    check_preconditions(existing, pre)
    if existing is not None:
        session.delete(existing)
        session.flush()


def delete_all(session: Session, scope: Scope) -> int:
    """Delete every document of a scope (State DELETE without stateId); return how many."""
    result = session.execute(delete(LrsDocument).where(LrsDocument.scope_key == scope.key))
    return int(getattr(result, "rowcount", 0) or 0)
