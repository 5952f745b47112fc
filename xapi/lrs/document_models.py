"""Storage of the document resources (State, Activity Profile, Agent Profile): one table for all three.

A document is found by its scope (resource kind, activity, agent, registration) and its id. Both can be long
IRIs or JSON, so lookups use fixed-length SHA-256 keys of them; the readable values are kept beside the keys.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xapi.db import XapiBase


class LrsDocument(XapiBase):
    """One stored document and what concurrency control needs about it."""

    __tablename__ = "xapi_lrs_document"
    __table_args__ = (
        UniqueConstraint("scope_key", "doc_key"),
        # Listing ids (with ``since``) and deleting every state of a scope read by scope, newest last.
        Index("ix_xapi_lrs_document_scope_updated", "scope_key", "updated"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # state | activity_profile | agent_profile
    scope_key: Mapped[str] = mapped_column(String(64))
    doc_key: Mapped[str] = mapped_column(String(64))
    doc_id: Mapped[str] = mapped_column(Text)
    activity_id: Mapped[str | None] = mapped_column(Text)
    agent: Mapped[str | None] = mapped_column(Text)  # the agent's canonical identifier (agent_param.ifi_key)
    registration: Mapped[str | None] = mapped_column(String(36))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(255))
    etag: Mapped[str] = mapped_column(String(40))  # SHA-1 hex of the content, unquoted
    updated: Mapped[datetime] = mapped_column()
