"""The demo LMS's own tables: it is a separate platform that happens to share the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import Base, utcnow


class DemoKey(Base):
    """The demo platform's signing key."""

    __tablename__ = "demo_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoTool(Base):
    """A tool registered with the demo platform (by Dynamic Registration)."""

    __tablename__ = "demo_tool"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    deployment_id: Mapped[str] = mapped_column(String(64))
    # The client metadata the tool registered, as it sent it.
    config: Mapped[dict[str, Any]] = mapped_column()
    registration_token: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoLink(Base):
    """A placement of a tool in the demo course (created by deep linking, or the default one)."""

    __tablename__ = "demo_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("demo_tool.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(1024), default=None)
    custom: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoLineItem(Base):
    """A gradebook column of the demo course (AGS line item)."""

    __tablename__ = "demo_line_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("demo_link.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(String(255))
    score_maximum: Mapped[float] = mapped_column(Float)
    resource_id: Mapped[str] = mapped_column(String(255), default="")
    tag: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoScore(Base):
    """A score the tool posted to the demo gradebook; every post is kept, newest wins."""

    __tablename__ = "demo_score"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("demo_line_item.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    score_given: Mapped[float | None] = mapped_column(Float, default=None)
    score_maximum: Mapped[float | None] = mapped_column(Float, default=None)
    activity_progress: Mapped[str] = mapped_column(String(32))
    grading_progress: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    timestamp: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoAccessToken(Base):
    """An OAuth2 access token the demo platform issued to a tool for AGS/NRPS."""

    __tablename__ = "demo_access_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("demo_tool.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
