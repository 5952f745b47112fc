"""Response headers (CSP with frame-ancestors per registered platform) and the launch cookies."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from lti_tool import db
from lti_tool.lti.errors import CsrfInvalid
from lti_tool.models import Platform

STATE_COOKIE_PREFIX = "lti_state_"
SESSION_COOKIE_PREFIX = "us_"
_ORIGINS_TTL = 5.0
_origins_cache: tuple[float, tuple[str, ...]] = (0.0, ())


def origin(url: str) -> str | None:
    """Return scheme://host[:port] of a URL, or None when it has none."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def platform_origins() -> tuple[str, ...]:
    """Return the origins of every registered platform (briefly cached: it is on every page)."""
    global _origins_cache
    stamp, cached = _origins_cache
    if time.monotonic() - stamp < _ORIGINS_TTL:
        return cached
    rows = db.session().execute(select(Platform.issuer, Platform.auth_login_url)).all()
    found = {o for row in rows for o in map(origin, row) if o}
    _origins_cache = (time.monotonic(), tuple(sorted(found)))
    return _origins_cache[1]


def forget_platform_origins() -> None:
    """Drop the cached origins after a registration changes."""
    global _origins_cache
    _origins_cache = (0.0, ())


def _csp(frame_ancestors: str, form_action: str) -> str:
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"object-src 'none'; base-uri 'none'; form-action {form_action}; "
        f"frame-ancestors {frame_ancestors}"
    )


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        if request.blueprint == "demo_lms":
            response.headers["Content-Security-Policy"] = _csp("'self'", "'self' " + _tool_origin())
        else:
            allowed = " ".join(("'self'", *platform_origins()))
            response.headers["Content-Security-Policy"] = _csp(allowed, allowed)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _tool_origin() -> str:
    return origin(current_app.config["PUBLIC_URL"]) or ""


def set_cross_site_cookie(response: BaseResponse, name: str, value: str, max_age: int, path: str) -> None:
    """Set a cookie that survives inside a cross-site LMS iframe (CHIPS-partitioned)."""
    response.set_cookie(
        name, value, max_age=max_age, path=path, secure=True, httponly=True,
        samesite="None", partitioned=True,
    )


def check_csrf(expected: str) -> None:
    """Refuse a form post whose CSRF token is not the session's."""
    sent = request.form.get("csrf_token", "")
    if not sent or not secrets.compare_digest(sent, expected):
        raise CsrfInvalid()


def init_app(app: Flask) -> None:
    """Add the security headers to every response."""
    app.after_request(_headers)
