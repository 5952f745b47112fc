"""The OIDC login and the launch: from the platform's first redirect to a tool session."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, undefer

from lti_tool.content import get_content
from lti_tool.db import utcnow
from lti_tool.lti import claims as c
from lti_tool.lti import errors
from lti_tool.lti.roles import Role, role_for
from lti_tool.lti.validation import Expected, check_claims, verify_signature
from lti_tool.models import Deployment, Launch, LoginState, Platform, ToolSession, UsedNonce
from lti_tool.services import platforms, player, statements
from lti_tool.services.records import record_people

# Expired rows are swept by one login in this many: often enough to keep tables small,
# rarely enough to keep three DELETEs off the typical login.
PURGE_ONE_IN = 20


@dataclass(frozen=True)
class LoginRequest:
    """The parameters of a third-party initiated login (LTI core §5.1.1)."""

    iss: str
    login_hint: str
    target_link_uri: str
    lti_message_hint: str | None = None
    client_id: str | None = None
    lti_deployment_id: str | None = None
    # LTI Platform Storage: the frame of the platform's page that keeps data for the tool.
    lti_storage_target: str | None = None

    def params(self) -> dict[str, str]:
        """Return the login parameters to start the same login again (without the storage target)."""
        fields = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id")
        return {name: value for name in fields if (value := getattr(self, name)) is not None}


@dataclass(frozen=True)
class StoragePut:
    """What the login page asks the platform to keep: ``lti.put_data`` of ``value`` under ``key``."""

    target: str
    origin: str
    key: str
    value: str


@dataclass(frozen=True)
class Login:
    """A login begun: its state, the platform URL to go to, and what to put in platform storage."""

    state: str
    url: str
    storage: StoragePut | None = None


@dataclass(frozen=True)
class Settings:
    """The configuration values a launch needs."""

    public_url: str
    state_ttl: int
    session_ttl: int
    leeway: int
    jwks_max_age: int


def begin_login(session: Session, req: LoginRequest, settings: Settings) -> Login:
    """Store state and nonce for a login; return the state and the URL of the platform's auth endpoint."""
    platform = platforms.find(session, req.iss, req.client_id)
    if platform is None:
        raise errors.PlatformUnknown(f"issuer {req.iss!r}")
    deployments = {d.deployment_id for d in platform.deployments}
    if req.lti_deployment_id is not None and req.lti_deployment_id not in deployments:
        raise errors.DeploymentUnknown(f"deployment {req.lti_deployment_id!r}")
    if not _is_ours(req.target_link_uri, settings.public_url):
        raise errors.TargetLinkInvalid(req.target_link_uri)
    now = utcnow()
    if secrets.randbelow(PURGE_ONE_IN) == 0:
        purge_expired(session, now)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    storage = _storage_put(platform, req.lti_storage_target, state)
    session.add(LoginState(
        state=state, nonce=nonce, platform_id=platform.id, target_link_uri=req.target_link_uri,
        created_at=now, expires_at=now + timedelta(seconds=settings.state_ttl), login_params=req.params(),
        storage_target=storage.target if storage else None,
        storage_secret_hash=hash_token(storage.value) if storage else None,
    ))
    params = {
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
        "client_id": platform.client_id, "redirect_uri": settings.public_url + "/lti/launch",
        "login_hint": req.login_hint, "state": state, "nonce": nonce,
    }
    if req.lti_message_hint is not None:
        params["lti_message_hint"] = req.lti_message_hint
    sep = "&" if "?" in platform.auth_login_url else "?"
    return Login(state, f"{platform.auth_login_url}{sep}{urlencode(params)}", storage)


def _storage_put(platform: Platform, target: str | None, state: str) -> StoragePut | None:
    # Messages go to the origin of the platform's OIDC auth endpoint (Platform Storage spec).
    found = auth_origin(platform)
    if not target or found is None:
        return None
    # A secret of its own, not the state: the state travels through the platform's auth URL and logs.
    return StoragePut(target, found, storage_key(state), secrets.token_urlsafe(32))


def auth_origin(platform: Platform) -> str | None:
    """Return the origin of the platform's OIDC auth endpoint: where storage messages go."""
    parts = urlsplit(platform.auth_login_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def pending_login(session: Session, state: str) -> LoginState | None:
    """Return the live login ``state`` names, without consuming it."""
    login = session.get(LoginState, state, options=[joinedload(LoginState.platform)])
    return login if login is not None and login.expires_at >= utcnow() else None


def storage_key(state: str) -> str:
    """Return the platform-storage key under which a login's secret is kept."""
    return f"state_{state}"


def restart_url(login: LoginState, public_url: str) -> str:
    """Return the tool's login URL that starts this login again (for a top-level window)."""
    return f"{public_url}/lti/login?{urlencode(login.login_params or {})}"


def purge_expired(session: Session, now: datetime) -> None:
    """Delete login states, nonces and sessions that can no longer be used."""
    for model in (LoginState, UsedNonce, ToolSession):
        session.execute(delete(model).where(model.expires_at < now))


def _is_ours(url: str, public_url: str) -> bool:
    return url == public_url or url.startswith(public_url + "/")


@dataclass(frozen=True)
class Opened:
    """A launch accepted: the new session and its secret (for its cookie, or its URL when ``url_bound``)."""

    tool_session: ToolSession
    token: str

    @property
    def url_sid(self) -> str:
        """Return the ``sid`` URL segment: the id, with the secret when the session is URL-bound."""
        s = self.tool_session
        return f"{s.id}.{self.token}" if s.url_bound else s.id


def complete_launch(
    session: Session, state: str | None, id_token: str | None, state_cookie: str | None,
    http: httpx.Client, settings: Settings, storage_value: str | None = None,
) -> Opened:
    """Validate the id_token against the login it answers; record the launch and open a session.

    Without the state cookie, the secret kept in platform storage (``storage_value``) proves the browser
    began the login, and the session is URL-bound.
    """
    login, url_bound = _consume_state(session, state, state_cookie, storage_value)
    if not id_token:
        raise errors.TokenMissing()
    platform: Platform = login.platform
    lookup = platforms.key_lookup(session, platform, http, settings.jwks_max_age)
    token_claims = verify_signature(id_token, lookup)
    expected = Expected(
        issuer=platform.issuer, client_id=platform.client_id, nonce=login.nonce,
        deployment_ids={d.deployment_id for d in platform.deployments},
        now=time.time(), leeway=settings.leeway,
    )
    check_claims(token_claims, expected)
    _spend_nonce(session, platform, token_claims)
    deployment = next(
        d for d in platform.deployments if d.deployment_id == token_claims[c.DEPLOYMENT_ID]
    )
    launch = _record(session, deployment, token_claims)
    opened = _open_session(session, launch, token_claims, settings, url_bound)
    _queue_launched(session, opened.tool_session)
    return opened


def _queue_launched(session: Session, tool_session: ToolSession) -> None:
    # A learner's launch into a module is the xAPI session's "launched" (in this transaction).
    launch = tool_session.launch
    slug = launch.resource_link.module if launch.resource_link else None
    module = get_content().modules.get(slug) if slug else None
    if module is None or launch.role != Role.LEARNER or launch.message_type != c.RESOURCE_LINK_REQUEST:
        return
    statements.launched(session, tool_session, player.registration(session, launch.user, module.slug), module)


def _consume_state(
    session: Session, state: str | None, state_cookie: str | None, storage_value: str | None
) -> tuple[LoginState, bool]:
    if not state:
        raise errors.StateMissing()
    # The launch reads the platform's deployments and cached key set: one query for all of it.
    platform = joinedload(LoginState.platform).options(undefer(Platform.jwks_cache), joinedload(Platform.deployments))
    login = session.get(LoginState, state, options=[platform])
    if login is None or login.expires_at < utcnow():
        raise errors.StateUnknown()
    # The state cookie ties the launch to the browser that began the login (CSRF defence); the secret in
    # platform storage does the same for a browser that refuses the cookie. Neither: refused, not consumed.
    by_cookie = state_cookie is not None and secrets.compare_digest(state_cookie, state)
    by_storage = not by_cookie and _storage_matches(login, storage_value)
    if not (by_cookie or by_storage):
        raise errors.StateMismatch()
    # A DELETE that must hit exactly one row: of two racing launches only one wins.
    deleted = session.execute(delete(LoginState).where(LoginState.state == state))
    if deleted.rowcount != 1:  # type: ignore[attr-defined]
        raise errors.StateUnknown()
    return login, by_storage


def _storage_matches(login: LoginState, value: str | None) -> bool:
    if not value or login.storage_secret_hash is None:
        return False
    return secrets.compare_digest(login.storage_secret_hash, hash_token(value))


def _spend_nonce(session: Session, platform: Platform, token_claims: dict[str, Any]) -> None:
    # The unique constraint is the check: of two racing launches with one nonce, one insert fails
    # (and the refused request rolls back). Kept past the token's expiry, after which exp refuses it.
    expires = datetime.fromtimestamp(float(token_claims["exp"]), tz=UTC) + timedelta(hours=1)
    session.add(UsedNonce(platform_id=platform.id, nonce=str(token_claims["nonce"]), expires_at=expires))
    try:
        session.flush()
    except IntegrityError as exc:
        raise errors.NonceReplayed() from exc


def _record(session: Session, deployment: Deployment, token_claims: dict[str, Any]) -> Launch:
    user, context, link = record_people(session, deployment, token_claims)
    # Objects, not ids: the launch's relationships are then loaded already (no lazy load per use later).
    launch = Launch(
        user=user, deployment=deployment, context=context, resource_link=link,
        message_type=token_claims[c.MESSAGE_TYPE], role=role_for(token_claims[c.ROLES]).value,
    )
    session.add(launch)
    session.flush()
    return launch


def _open_session(
    session: Session, launch: Launch, token_claims: dict[str, Any], settings: Settings, url_bound: bool
) -> Opened:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    tool_session = ToolSession(
        id=secrets.token_urlsafe(12), token_hash=hash_token(token), launch=launch,
        csrf_token=secrets.token_urlsafe(24), deep_linking=token_claims.get(c.DEEP_LINKING_SETTINGS),
        created_at=now, expires_at=now + timedelta(seconds=settings.session_ttl), url_bound=url_bound,
    )
    session.add(tool_session)
    session.flush()
    return Opened(tool_session=tool_session, token=token)


def hash_token(token: str) -> str:
    """Hash a session token: the database never holds a usable session secret."""
    return hashlib.sha256(token.encode()).hexdigest()


# The landing pages need the launch with its user, course and link: one query, not five.
_SESSION_LOAD = joinedload(ToolSession.launch).options(
    joinedload(Launch.user), joinedload(Launch.context), joinedload(Launch.resource_link),
)


def load_session(session: Session, sid: str, cookie_token: str | None) -> ToolSession:
    """Return the live session ``sid`` names if the browser holds its secret: the cookie's, or for a
    URL-bound session the one in ``sid`` itself (``<id>.<token>``); each kind is accepted only its own way."""
    session_id, dot, url_token = sid.partition(".")
    token = url_token if dot else cookie_token
    tool_session = session.get(ToolSession, session_id, options=[_SESSION_LOAD])
    if tool_session is None or not token or tool_session.expires_at < utcnow():
        raise errors.SessionMissing()
    if tool_session.url_bound != bool(dot):
        raise errors.SessionMissing()
    if not secrets.compare_digest(tool_session.token_hash, hash_token(token)):
        raise errors.SessionMissing()
    return tool_session
