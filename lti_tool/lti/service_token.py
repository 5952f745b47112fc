"""Access tokens for the LTI Advantage services (1EdTech Security Framework §4.1).

The tool asks the platform's token endpoint for a token with the OAuth 2.0 client_credentials grant,
authenticating with a JWT client assertion (RFC 7523) signed by its current key. Signing costs about
a millisecond and a token round trip far more, so tokens are cached per process until shortly before
they expire. The cache is keyed by token endpoint, client id, signing key and scopes: a key rotation
or another registration never reuses a token obtained for something else. A restarted process starts
with an empty cache and simply asks again; a platform that revoked a token answers 401, and the
service clients then call ``invalidate`` and retry once with a fresh token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session

from lti_tool.lti import keys
from lti_tool.models import Platform

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300
# Stop using a token this long before the platform says it expires (clock skew, requests in flight).
EXPIRY_MARGIN = 60.0


class ServiceError(Exception):
    """A call to an LTI Advantage service failed; ``status`` is the HTTP status (None: no answer).

    ``retryable`` says whether trying again later may help (timeouts, 5xx, 429) or not (other 4xx).
    """

    def __init__(self, message: str, status: int | None = None, body: str = "",
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.body, self.retry_after = status, body[:2000], retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in (408, 425, 429)


@dataclass(frozen=True)
class _Cached:
    token: str
    good_until: float  # on the cache's clock (time.monotonic)


class TokenCache:
    """Access tokens by (token URL, client id, kid, scopes); safe to share between threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], _Cached] = {}
        self.requests = 0  # tokens fetched from platforms, for tests and diagnostics

    def get(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            found = self._tokens.get(key)
            if found is None or found.good_until <= self._clock():
                self._tokens.pop(key, None)
                return None
            return found.token

    def put(self, key: tuple[str, ...], token: str, expires_in: float) -> None:
        margin = min(EXPIRY_MARGIN, expires_in / 2)
        with self._lock:
            self._tokens[key] = _Cached(token, self._clock() + expires_in - margin)
            self.requests += 1

    def drop(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._tokens.pop(key, None)


# One cache per process; gunicorn workers each keep their own (a token per worker per hour is cheap).
DEFAULT_CACHE = TokenCache()


def _key(session: Session, platform: Platform, scopes: Iterable[str]) -> tuple[str, ...]:
    kid = keys.signing_key(session).kid
    return (platform.token_url, platform.client_id, kid, *sorted(set(scopes)))


def client_assertion(session: Session, platform: Platform) -> str:
    """Sign the JWT that authenticates the tool at the platform's token endpoint."""
    claims = {"iss": platform.client_id, "sub": platform.client_id, "aud": platform.token_url}
    return keys.sign(session, claims, lifetime=ASSERTION_LIFETIME)


def access_token(session: Session, http: httpx.Client, platform: Platform, scopes: Iterable[str],
                 cache: TokenCache | None = None) -> str:
    """Return a bearer token granting ``scopes`` at ``platform``, from the cache or the token endpoint."""
    cache = cache or DEFAULT_CACHE
    wanted = sorted(set(scopes))
    key = _key(session, platform, wanted)
    token = cache.get(key)
    if token is None:
        token, expires_in = _request(session, http, platform, wanted)
        cache.put(key, token, expires_in)
    return token


def invalidate(session: Session, platform: Platform, scopes: Iterable[str], cache: TokenCache | None = None) -> None:
    """Forget the cached token for ``scopes`` (the platform refused it with 401)."""
    (cache or DEFAULT_CACHE).drop(_key(session, platform, scopes))


def _request(session: Session, http: httpx.Client, platform: Platform, scopes: list[str]) -> tuple[str, float]:
    form = {
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(session, platform), "scope": " ".join(scopes),
    }
    try:
        response = http.post(platform.token_url, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ServiceError(f"token endpoint {platform.token_url}: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise ServiceError(f"token endpoint {platform.token_url} answered {response.status_code}",
                           response.status_code, response.text)
    body = _json_object(response)
    token, expires_in = body.get("access_token"), body.get("expires_in", 3600)
    if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
        raise ServiceError(f"token endpoint {platform.token_url} sent no usable access_token", 502, response.text)
    return token, float(expires_in)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise ServiceError(f"{response.request.url} sent invalid JSON", 502, response.text) from exc
    if not isinstance(body, dict):
        raise ServiceError(f"{response.request.url} sent JSON that is not an object", 502, response.text)
    return body


def authorized_request(
    session: Session, http: httpx.Client, platform: Platform, scopes: Iterable[str], method: str, url: str,
    *, cache: TokenCache | None = None, **kwargs: Any,
) -> httpx.Response:
    """Send a request with a bearer token; on 401 fetch a fresh token and try exactly once more.

    Raise ``ServiceError`` for transport failures and for any status of 400 or above.
    """
    scopes = sorted(set(scopes))
    headers = dict(kwargs.pop("headers", None) or {})
    for retry in (False, True):
        if retry:
            invalidate(session, platform, scopes, cache)
        headers["Authorization"] = "Bearer " + access_token(session, http, platform, scopes, cache)
        try:
            response = http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 401:
            break
    if response.status_code >= 400:
        raise ServiceError(f"{method} {url} answered {response.status_code}", response.status_code, response.text,
                           _retry_after(response))
    return response


def _retry_after(response: httpx.Response) -> float | None:
    # Only the delay-seconds form: an HTTP date would need the platform's clock to agree with ours.
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def json_body(response: httpx.Response) -> dict[str, Any]:
    """Return a service response's JSON object or raise ``ServiceError``."""
    return _json_object(response)
