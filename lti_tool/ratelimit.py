"""Rate limits on the surfaces a flood would hit first: OIDC login, launch, Dynamic Registration, the LRS.

The check runs in an app-level ``before_request``, so it runs before any blueprint hook or view: a
throttled request opens no transaction and stores nothing. Keys: the client address for people (behind
a proxy it is the real client once ProxyFix is configured); for the LRS the Basic-auth key (the user
name, never the secret) when present, else the address. The delivery worker, holding the built-in LRS's
own credentials, is never throttled: its batch rate is ours to set, and a 429 would only delay
statements. The exemption compares the secret too, since the worker's key name is public.

Counters live in memory (per process) unless ``UPSTANDER_RATE_LIMIT_REDIS_URL`` is set, when every
process and host shares them (see :mod:`lti_tool.ratelimit_backends`).
"""

from __future__ import annotations

import hmac
import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from lti_tool.ratelimit_backends import Backend, Decision, MemoryBackend, Rate, RedisBackend
from xapi.lrs.auth import basic_credentials

EXTENSION = "upstander.ratelimit"
_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
_MAX_KEY_LENGTH = 64  # LRS client keys are at most 64 characters; longer names are keyed by address
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class RateLimitConfigError(ValueError):
    """A rate-limit setting that cannot be understood; raised when the app is created."""


@dataclass(frozen=True)
class Surface:
    """A group of endpoints sharing one limit, found by path prefix."""

    name: str
    setting: str
    prefixes: tuple[str, ...]
    api: bool = False

    def matches(self, path: str) -> bool:
        return any(path == p.rstrip("/") or path.startswith(p) for p in self.prefixes)


# /lti/launch is a prefix on purpose: any launch-completion endpoint added under it shares the limit.
SURFACES = (
    Surface("login", "RATE_LIMIT_LOGIN", ("/lti/login",)),
    Surface("launch", "RATE_LIMIT_LAUNCH", ("/lti/launch",)),
    Surface("register", "RATE_LIMIT_REGISTER", ("/lti/register",)),
    Surface("lrs", "RATE_LIMIT_LRS", ("/xapi/",), api=True),
)


def parse_rate(setting: str, value: Any) -> Rate | None:
    """Read ``N/second|minute|hour|day`` (or ``off``: None); raise RateLimitConfigError otherwise."""
    if isinstance(value, str) and value.strip().lower() == "off":
        return None
    match = _RATE.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) < 1:
        raise RateLimitConfigError(
            f"UPSTANDER_{setting}={value!r} is not a rate: write N/second, N/minute, N/hour or N/day "
            f"with N at least 1 (for example 600/minute), or off")
    return Rate(int(match.group(1)), _UNITS[match.group(2).lower()])


def parse_flag(setting: str, value: Any) -> bool:
    """Read a boolean setting given as a bool or as true/false, yes/no, on/off, 1/0."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise RateLimitConfigError(f"UPSTANDER_{setting}={value!r} is not true or false")


@dataclass
class Limiter:
    """The limits of one app: a rate per surface, a backend, a clock (injectable for tests)."""

    rates: dict[str, Rate]
    backend: Backend
    exempt: tuple[tuple[str, str], ...] = ()  # LRS (key, secret) pairs never throttled
    clock: Callable[[], float] = time.time
    stats: Counter[str] = field(default_factory=Counter)

    def check(self, surface: Surface, client: str) -> Decision:
        """Count one request of ``client`` on ``surface``."""
        rate = self.rates.get(surface.name)
        if rate is None:
            return Decision(True)
        decision = self.backend.hit(f"{surface.name}:{client}", rate, self.clock())
        self.stats[f"{surface.name}.{'allowed' if decision.allowed else 'throttled'}"] += 1
        return decision

    def lrs_client(self, authorization: str | None, address: str) -> str | None:
        """Return the LRS key to count under, or None for the exempt delivery worker."""
        credentials = basic_credentials(authorization)
        if credentials is None or not credentials[0] or len(credentials[0]) > _MAX_KEY_LENGTH:
            return f"addr:{address}"
        key, secret = credentials
        for exempt_key, exempt_secret in self.exempt:
            if key == exempt_key and hmac.compare_digest(secret.encode(), exempt_secret.encode()):
                return None
        return f"key:{key}"


def build(config: dict[str, Any] | Any) -> Limiter | None:
    """Build the app's limiter from its config, or None when limits are turned off."""
    rates = {s.name: rate for s in SURFACES if (rate := parse_rate(s.setting, config[s.setting])) is not None}
    if not parse_flag("RATE_LIMITS_ENABLED", config["RATE_LIMITS_ENABLED"]):
        return None
    url = str(config["RATE_LIMIT_REDIS_URL"] or "")
    try:
        backend: Backend = RedisBackend(url, str(config["RATE_LIMIT_KEY_PREFIX"])) if url else MemoryBackend()
    except ValueError as exc:  # the URL itself is wrong (no connection is made here)
        raise RateLimitConfigError(f"UPSTANDER_RATE_LIMIT_REDIS_URL={url!r}: {exc}") from exc
    return Limiter(rates, backend, _exempt(config))


def _exempt(config: dict[str, Any] | Any) -> tuple[tuple[str, str], ...]:
    from lti_tool.lrs_mount import pepper_for
    from xapi.lrs.auth import worker_credentials

    pairs = [worker_credentials(pepper_for(config["SECRET_KEY"]))]
    if config.get("LRS_KEY") and config.get("LRS_SECRET"):
        pairs.append((str(config["LRS_KEY"]), str(config["LRS_SECRET"])))
    return tuple(pairs)


def init_app(app: Flask) -> None:
    """Validate the settings (failing start-up on a bad one) and install the check before every request."""
    limiter = build(app.config)
    if limiter is None:
        return
    app.extensions[EXTENSION] = limiter
    app.before_request(_check)


def _check() -> BaseResponse | None:
    limiter: Limiter = current_app.extensions[EXTENSION]
    surface = next((s for s in SURFACES if s.matches(request.path)), None)
    if surface is None:
        return None
    address = request.remote_addr or "unknown"
    client = limiter.lrs_client(request.headers.get("Authorization"), address) if surface.api else address
    if client is None:
        return None
    decision = limiter.check(surface, client)
    if decision.allowed:
        return None
    from lti_tool.ops.metrics import RATE_LIMITED

    RATE_LIMITED.labels(surface.name).inc()
    return _refusal(surface, max(1, math.ceil(decision.retry_after)))


def _refusal(surface: Surface, retry_after: int) -> Response:
    from lti_tool.errors import problem, wants_json
    from xapi.lrs.http import LrsError

    if surface.api:
        response = LrsError(429, f"too many requests from this client: try again in {retry_after} s").response()
    elif wants_json():
        response = problem(429, "Too Many Requests", _detail(retry_after), "rate_limited")
    else:
        html = render_template("http_error.html", status=429, title="Too Many Requests", detail=_detail(retry_after))
        response = current_app.response_class(html, status=429, mimetype="text/html")
    response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


def _detail(retry_after: int) -> str:
    return (f"Too many requests came from your network in a short time, so nothing was done. "
            f"Wait {retry_after} second{'s' if retry_after != 1 else ''}, then open the activity again "
            f"from your course.")
