"""Response headers (CSP with frame-ancestors per registered platform) and the launch cookies."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from lti_tool import db
from lti_tool.lti.errors import CsrfInvalid
from lti_tool.models import Platform

STATE_COOKIE_PREFIX = "lti_state_"
SESSION_COOKIE_PREFIX = "us_"


def origin(url: str) -> str | None:
    """Return scheme://host[:port] of a URL, or None when it has none."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def platform_origins() -> tuple[str, ...]:
    """Return the origins of every registered platform.

    Not cached: a registration made by another process must be framable at once, and this
    is one small indexed read on HTML responses only.
    """
    rows = db.session().execute(select(Platform.issuer, Platform.auth_login_url)).all()
    return tuple(sorted({o for row in rows for o in map(origin, row) if o}))


def _csp(frame_ancestors: str, form_action: str, frame_src: str = "'none'") -> str:
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"object-src 'none'; base-uri 'none'; form-action {form_action}; "
        f"frame-src {frame_src}; frame-ancestors {frame_ancestors}"
    )


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    # A redirect's body is never rendered, so it needs no CSP (and the platform query is skipped).
    if (response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers
            and not 300 <= response.status_code < 400):
        if request.blueprint == "demo_lms":
            tool = "'self' " + _tool_origin()
            response.headers["Content-Security-Policy"] = _csp("'self'", tool, frame_src=tool)
        else:
            allowed = " ".join(("'self'", *platform_origins(), *_registering_origin()))
            response.headers["Content-Security-Policy"] = _csp(allowed, allowed)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _registering_origin() -> tuple[str, ...]:
    # The registration page is framed by a platform not yet registered (also when it fails).
    if request.endpoint != "lti.register":
        return ()
    found = origin(request.args.get("openid_configuration", ""))
    return (found,) if found else ()


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
