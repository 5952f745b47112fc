"""Tables of the Statements resource.

A statement is stored once as JSON (what ``format=exact`` returns) with the properties queries filter on
extracted into indexed columns. Agents and activities a statement mentions get one row per (key, scope):
scope 0 rows are what the plain ``agent``/``activity`` filters match (actor or object), scope 1 rows what
``related_agents``/``related_activities`` match (everything, including the scope 0 ones again), so each
query walks one composite index ending in the statement's sequence number (``pk``), in paging order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from xapi.db import XapiBase

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit sequence.
Sequence = BigInteger().with_variant(Integer(), "sqlite")

DIRECT, RELATED = 0, 1


class StoredStatement(XapiBase):
    """One statement; ``pk`` is the store order, used for paging and ``more`` tokens."""

    __tablename__ = "xapi_lrs_statement"
    __table_args__ = (
        Index("ix_xapi_lrs_statement_verb_pk", "verb_id", "pk"),
        Index("ix_xapi_lrs_statement_registration_pk", "registration", "pk"),
        Index("ix_xapi_lrs_statement_client_pk", "client_id", "pk"),
        Index("ix_xapi_lrs_statement_object_ref", "object_ref"),
        Index("ix_xapi_lrs_statement_stored", "stored"),
    )

    pk: Mapped[int] = mapped_column(Sequence, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    stored: Mapped[datetime] = mapped_column()
    verb_id: Mapped[str] = mapped_column(String(2048))
    actor_key: Mapped[str | None] = mapped_column(String(2048))
    object_type: Mapped[str] = mapped_column(String(16))
    # The object's activity id, agent key or referenced statement id, by object_type.
    object_key: Mapped[str | None] = mapped_column(String(2048))
    object_ref: Mapped[str | None] = mapped_column(String(36))
    registration: Mapped[str | None] = mapped_column(String(36))
    voided: Mapped[bool] = mapped_column(default=False)
    voiding: Mapped[bool] = mapped_column(default=False)
    authority_key: Mapped[str | None] = mapped_column(String(2048))
    client_id: Mapped[int | None] = mapped_column()
    # Plain JSON, not JSONB: queries filter on the extracted columns above, never inside the document,
    # and json is cheaper than jsonb both to store (no binary conversion) and to read back as text.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class StatementAgent(XapiBase):
    """An agent or identified group a statement mentions (``agent`` and ``related_agents`` filters)."""

    __tablename__ = "xapi_lrs_statement_agent"

    agent_key: Mapped[str] = mapped_column(String(2048), primary_key=True)
    scope: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    # No foreign key: these rows are written only with their statement, in its transaction, and
    # statements are never deleted; a key check per row cost ~12% of batch ingestion on PostgreSQL.
    statement_pk: Mapped[int] = mapped_column(Sequence, primary_key=True)


class StatementActivity(XapiBase):
    """An activity a statement mentions (``activity`` and ``related_activities`` filters)."""

    __tablename__ = "xapi_lrs_statement_activity"

    activity_id: Mapped[str] = mapped_column(String(2048), primary_key=True)
    scope: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    # No foreign key: these rows are written only with their statement, in its transaction, and
    # statements are never deleted; a key check per row cost ~12% of batch ingestion on PostgreSQL.
    statement_pk: Mapped[int] = mapped_column(Sequence, primary_key=True)


class StatementRefLink(XapiBase):
    """``source`` reaches ``target`` through one or more StatementRefs: the source matches what the target matches."""

    __tablename__ = "xapi_lrs_statement_ref"

    target_pk: Mapped[int] = mapped_column(Sequence, ForeignKey("xapi_lrs_statement.pk", ondelete="CASCADE"),
                                           primary_key=True)
    source_pk: Mapped[int] = mapped_column(Sequence, ForeignKey("xapi_lrs_statement.pk", ondelete="CASCADE"),
                                           primary_key=True, index=True)


class CanonicalActivity(XapiBase):
    """The LRS's merged definition of an activity (GET /activities, ``format=canonical``)."""

    __tablename__ = "xapi_lrs_activity"

    activity_id: Mapped[str] = mapped_column(String(2048), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column()
    updated: Mapped[datetime] = mapped_column()


class AttachmentContent(XapiBase):
    """Attachment bytes, stored once per SHA-2 hash."""

    __tablename__ = "xapi_lrs_attachment"

    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
