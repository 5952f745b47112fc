"""Register, list, find and remove platforms and their deployments."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from joserfc.jwk import KeySet
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload, selectinload

from lti_tool.lti import errors
from lti_tool.models import Deployment, Platform

# An id_token naming a kid the platform does not publish makes us fetch its key set again (it may
# have rotated). Anyone can send such tokens, so that refetch happens at most once per platform in
# this many seconds per process; a real rotation is picked up by the first launch that needs it.
REFETCH_INTERVAL = 10.0
_refetched: dict[int, float] = {}
_refetched_lock = threading.Lock()


def _may_refetch(platform_id: int) -> bool:
    now = time.monotonic()
    with _refetched_lock:
        if now - _refetched.get(platform_id, -REFETCH_INTERVAL) < REFETCH_INTERVAL:
            return False
        _refetched[platform_id] = now
        return True


@dataclass
class PlatformInput:
    """What a manual or dynamic registration provides."""

    issuer: str
    client_id: str
    auth_login_url: str
    token_url: str
    jwks_url: str
    deployment_ids: list[str] = field(default_factory=list)
    name: str = ""
    registered_via: str = "manual"


def register(session: Session, data: PlatformInput) -> Platform:
    """Create or update the registration of (issuer, client_id) and add its deployments."""
    platform = find(session, data.issuer, data.client_id)
    if platform is None:
        platform = Platform(issuer=data.issuer, client_id=data.client_id, deployments=[])
        session.add(platform)
    platform.name = data.name or platform.name or data.issuer
    platform.auth_login_url = data.auth_login_url
    platform.token_url = data.token_url
    if platform.jwks_url != data.jwks_url:
        platform.jwks_cache, platform.jwks_fetched_at = None, None
    platform.jwks_url = data.jwks_url
    platform.registered_via = data.registered_via
    known = {d.deployment_id for d in platform.deployments}
    for deployment_id in dict.fromkeys(data.deployment_ids):
        if deployment_id not in known:
            platform.deployments.append(Deployment(deployment_id=deployment_id))
    session.flush()
    return platform


def find(session: Session, issuer: str, client_id: str | None) -> Platform | None:
    """Return the registration for an issuer (and client id, required when the issuer has several)."""
    # Joined, not selectin: every login asks, and one round trip is cheaper than two (a platform has few deployments).
    stmt = select(Platform).where(Platform.issuer == issuer).options(joinedload(Platform.deployments))
    if client_id:
        stmt = stmt.where(Platform.client_id == client_id)
    found = list(session.scalars(stmt.limit(2)).unique())
    if len(found) > 1:
        raise errors.LoginParamsInvalid("this issuer has several registrations: client_id is required")
    return found[0] if found else None


def all_platforms(session: Session) -> list[Platform]:
    """Return every registration with its deployments."""
    stmt = select(Platform).options(selectinload(Platform.deployments)).order_by(Platform.id)
    return list(session.scalars(stmt))


def remove(session: Session, issuer: str, client_id: str) -> bool:
    """Delete a registration and, through the cascade, everything recorded under it."""
    result = session.execute(
        delete(Platform).where(Platform.issuer == issuer, Platform.client_id == client_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def key_lookup(
    session: Session, platform: Platform, http: httpx.Client, max_age: int
) -> Any:
    """Return a function giving the platform's key set, from the shared cache or freshly fetched."""

    def lookup(refresh: bool) -> KeySet:
        fetched = platform.jwks_fetched_at
        stale = fetched is None or (datetime.now(UTC) - fetched).total_seconds() > max_age
        if stale or platform.jwks_cache is None or (refresh and _may_refetch(platform.id)):
            platform.jwks_cache = fetch_key_set(http, platform.jwks_url)
            platform.jwks_fetched_at = datetime.now(UTC)
        return _parse_key_set(platform.jwks_cache)

    return lookup


def fetch_key_set(http: httpx.Client, url: str) -> dict[str, Any]:
    """GET a JWKS document and check its shape."""
    try:
        response = http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise errors.KeySetUnavailable(f"{url}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise errors.KeySetUnavailable(f"{url}: not a JSON Web Key Set")
    return data


def _parse_key_set(data: dict[str, Any]) -> KeySet:
    # Keys of other types or uses are skipped rather than failing the whole set.
    usable = [k for k in data.get("keys", []) if isinstance(k, dict) and k.get("kty") == "RSA"]
    try:
        return KeySet.import_key_set({"keys": usable})
    except (ValueError, TypeError) as exc:
        raise errors.KeySetUnavailable(f"unreadable key set: {exc}") from exc
