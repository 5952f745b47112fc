"""Platform registrations (issuer + client id), their deployments, and the tool's own keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, utcnow


class Platform(Base):
    """An LMS registration: one (issuer, client_id) pair with the platform's endpoints."""

    __tablename__ = "platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    token_url: Mapped[str] = mapped_column(String(1024))
    jwks_url: Mapped[str] = mapped_column(String(1024))
    registered_via: Mapped[str] = mapped_column(String(16), default="manual")
    # The platform's key set, shared by every process so a restart or a second
    # instance does not refetch it; refreshed on an unknown kid or when stale.
    # Deferred: only a launch reads the key set (and asks for it); every other load of a platform skips it.
    jwks_cache: Mapped[dict[str, Any] | None] = mapped_column(default=None, deferred=True)
    jwks_fetched_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", order_by="Deployment.id"
    )


class Deployment(Base):
    """A deployment id of a platform; every learner record hangs off one of these."""

    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    # Agency setting: put the learner's name (and e-mail) in xAPI statements; off, only the LMS account.
    identify_learners_by_name: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Joined: whoever needs a deployment (every xAPI statement) needs its platform's issuer too.
    platform: Mapped[Platform] = relationship(back_populates="deployments", lazy="joined")


class ToolKey(Base):
    """An RSA key pair of the tool; the newest keys are published for rotation."""

    __tablename__ = "tool_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
