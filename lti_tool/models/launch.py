"""Login state, nonces, and the people, courses and links a launch tells us about."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, utcnow
from lti_tool.models.platform import Deployment, Platform


class LoginState(Base):
    """The server-side half of an OIDC login, consumed by exactly one launch."""

    __tablename__ = "login_state"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    target_link_uri: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # The login request as the platform sent it, so that a launch refused for want of the state
    # cookie can offer to start the same login again in a top-level window (issue 7).
    login_params: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # LTI Platform Storage: the frame the platform named in ``lti_storage_target``, and the SHA-256 of
    # the secret the login page put there; the launch may present that secret instead of the cookie.
    storage_target: Mapped[str | None] = mapped_column(String(255), default=None)
    storage_secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)

    platform: Mapped[Platform] = relationship()


class UsedNonce(Base):
    """A nonce already accepted from a platform, kept until the token it came in expires."""

    __tablename__ = "used_nonce"
    __table_args__ = (UniqueConstraint("platform_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LtiUser(Base):
    """A person as one deployment knows them: the LTI ``sub`` is the identity."""

    __tablename__ = "lti_user"
    __table_args__ = (UniqueConstraint("deployment_pk", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_launch_at: Mapped[datetime] = mapped_column(default=utcnow)

    deployment: Mapped[Deployment] = relationship()


class LtiContext(Base):
    """A course (LTI context) within one deployment."""

    __tablename__ = "lti_context"
    __table_args__ = (UniqueConstraint("deployment_pk", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    label: Mapped[str] = mapped_column(String(255), default="")
    # Service endpoints the platform advertised for this course (AGS, NRPS).
    services: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # NRPS: where the roster of this course is read (from the latest launch's claim).
    memberships_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResourceLink(Base):
    """A placement of the tool in a course; ``module`` says which module it plays."""

    __tablename__ = "resource_link"
    __table_args__ = (UniqueConstraint("deployment_pk", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    context_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    module: Mapped[str | None] = mapped_column(String(128), default=None)
    # AGS, from the latest launch on this link: the course's line item container, the scopes the
    # platform grants, and this link's own line item (from deep linking, or created by the tool).
    lineitems_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    ags_scopes: Mapped[list[str] | None] = mapped_column(default=None)
    lineitem_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    """A user's role in a course, as of their latest launch."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_pk", "context_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    lis_roles: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Roster state (issue 6): how we learnt of the member ("launch" or "nrps"), whether the LMS still
    # lists them, when they left (members are marked, never deleted), the latest roster sync that
    # listed them, and the agency's own id for them (LIS person sourcedid) when the LMS gives one.
    source: Mapped[str] = mapped_column(String(16), default="launch", server_default="launch")
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    left_at: Mapped[datetime | None] = mapped_column(default=None)
    synced_at: Mapped[datetime | None] = mapped_column(default=None)
    agency_id: Mapped[str | None] = mapped_column(String(255), default=None)


class Launch(Base):
    """One accepted launch, kept as a record of who entered the tool, when and how."""

    __tablename__ = "launch"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    context_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"))
    resource_link_pk: Mapped[int | None] = mapped_column(ForeignKey("resource_link.id", ondelete="CASCADE"))
    message_type: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[LtiUser] = relationship()
    deployment: Mapped[Deployment] = relationship()
    context: Mapped[LtiContext | None] = relationship()
    resource_link: Mapped[ResourceLink | None] = relationship()


class ToolSession(Base):
    """A browser session opened by a launch.

    ``id`` is public and travels in URLs, so that launches in several tabs or iframes
    do not overwrite each other; the secret token travels in a cookie named after it, or, for a
    session opened through LTI Platform Storage (the browser refuses the tool's cookies), in the
    URL itself (``url_bound``: ``/app/<id>.<token>/``).
    """

    __tablename__ = "tool_session"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    launch_pk: Mapped[int] = mapped_column(ForeignKey("launch.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    # Deep-linking settings from the platform, needed to answer it.
    deep_linking: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    url_bound: Mapped[bool] = mapped_column(default=False, server_default=false())

    launch: Mapped[Launch] = relationship()
