"""What every LRS resource shares: the parsed request (with the 1.0.3 alternate request syntax),
version negotiation, the per-request transaction, errors as JSON, and scopes.

Views read the request only through :func:`xreq`, so a request sent with the alternate syntax
(``POST ?method=PUT`` with headers and content in a form body) looks like the ordinary one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from flask import Response, current_app, g, json, request
from sqlalchemy.orm import Session
from werkzeug.datastructures import Headers

from xapi.lrs.auth import Principal

VERSION_HEADER = "X-Experience-API-Version"
SUPPORTED = ("1.0.3", "2.0.0")
_VERSION = re.compile(r"^(1\.0|2\.0)(\.\d+)?$")
_ALTERNATE_METHODS = {"GET", "PUT", "POST", "DELETE", "HEAD"}
# Form fields of the alternate syntax that are request headers rather than query parameters.
_ALTERNATE_HEADERS = {"authorization", "x-experience-api-version", "content-type", "content-length",
                      "if-match", "if-none-match"}


class LrsError(Exception):
    """A refused request: ``status`` and a message naming the property (JSON path) and the rule."""

    def __init__(self, status: int, message: str, path: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.path, self.rule = status, message, path, rule

    def response(self) -> Response:
        error: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.path is not None:
            error["path"] = self.path
        if self.rule is not None:
            error["rule"] = self.rule
        resp = current_app.response_class(json.dumps({"error": error}), status=self.status,
                                          mimetype="application/json")
        if self.status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="xAPI"'
        return resp


@dataclass
class XRequest:
    """One xAPI request, whichever syntax carried it."""

    method: str
    params: dict[str, str]
    headers: Headers
    body: bytes
    alternate: bool = False
    version: str = "1.0.3"
    principal: Principal | None = field(default=None)

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def json_body(self) -> Any:
        """Parse the body as JSON or refuse with 400."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise LrsError(400, f"the request body is not valid JSON: {exc}") from exc


def xreq() -> XRequest:
    """Return the current xAPI request (parsed once per request)."""
    parsed: XRequest = g.xapi_request
    return parsed


def parse_request() -> XRequest:
    """Build the XRequest, unwrapping the alternate request syntax (xAPI 1.0.3 §1.3)."""
    params = dict(request.args.items(multi=False))
    if len(request.args) != len(list(request.args.items(multi=True))):
        raise LrsError(400, "a query parameter is given more than once")
    if "method" not in params:
        xr = XRequest(request.method, params, Headers(request.headers), request.get_data())
    else:
        xr = _alternate(params)
    for name, value in [*xr.params.items(), ("Content-Type", xr.headers.get("Content-Type", ""))]:
        if contains_nul(name) or contains_nul(value):
            raise nul_refused(name)
    return xr


def contains_nul(value: Any) -> bool:
    """True if U+0000 occurs in a string, or in any key or string of a JSON value."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


def nul_refused(path: str) -> LrsError:
    # PostgreSQL stores U+0000 neither in text nor in JSONB, so a value holding it could never be stored or found.
    return LrsError(400, "the character U+0000 is not accepted", path=path, rule="no U+0000")


def _alternate(params: dict[str, str]) -> XRequest:
    method = params.pop("method").upper()
    if request.method != "POST" or method not in _ALTERNATE_METHODS:
        raise LrsError(400, "the alternate request syntax needs POST with method=GET|PUT|POST|DELETE")
    if params:
        raise LrsError(400, "with the alternate request syntax only 'method' may be in the query string")
    if (request.mimetype or "") != "application/x-www-form-urlencoded":
        raise LrsError(400, "the alternate request syntax needs a form body (application/x-www-form-urlencoded)",
                       path="Content-Type", rule="alternate request syntax")
    form = dict(parse_qsl(request.get_data(as_text=True), keep_blank_values=True))
    headers = Headers(request.headers)
    # The outer Content-Type and Content-Length describe the form, not the content it carries: the
    # content is JSON unless the form says otherwise (1.0.3 Communication §1.3).
    headers["Content-Type"] = "application/json"
    content = form.pop("content", "").encode("utf-8")
    headers["Content-Length"] = str(len(content))
    for name in list(form):
        if name.lower() in _ALTERNATE_HEADERS:
            headers[name] = form.pop(name)
    return XRequest(method, form, headers, content, alternate=True)


def requested_version(xr: XRequest) -> str | None:
    """The version (1.0.3 or 2.0.0) the request's version header asks for; None if absent or unsupported."""
    match = _VERSION.match((xr.headers.get(VERSION_HEADER) or "").strip())
    if match is None:
        return None
    return "2.0.0" if match.group(1) == "2.0" else "1.0.3"


def negotiate(xr: XRequest, about: bool) -> None:
    """Check X-Experience-API-Version (not needed for /about) and remember the version we answer in."""
    given = xr.headers.get(VERSION_HEADER)
    if given is None:
        if about:
            return
        raise LrsError(400, f"the {VERSION_HEADER} header is required")
    version = requested_version(xr)
    if version is None:
        raise LrsError(400, f"unsupported {VERSION_HEADER} {given!r}: this LRS speaks 1.0.x and 2.0.x")
    xr.version = version
    if xr.alternate and xr.version == "2.0.0":
        raise LrsError(400, "xAPI 2.0 has no alternate request syntax")


def db() -> Session:
    """Return this request's LRS session; it commits once, when the response is a success."""
    if "xapi_lrs_session" not in g:
        factory: Callable[[], Session] = current_app.extensions["xapi.lrs"].session_factory
        g.xapi_lrs_session = factory()
    session: Session = g.xapi_lrs_session
    return session


def finish(response: Response) -> Response:
    """Commit on success, roll back otherwise; stamp the version header."""
    session: Session | None = g.pop("xapi_lrs_session", None)
    if session is not None:
        try:
            if response.status_code < 400:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()
    xr: XRequest | None = g.get("xapi_request")
    response.headers[VERSION_HEADER] = xr.version if xr is not None else SUPPORTED[0]
    return response


def require(*scopes: str) -> Principal:
    """Return the authenticated client if it holds one of ``scopes`` (or ``all``); 403 otherwise."""
    principal = xreq().principal
    if principal is None:
        raise LrsError(401, "authentication required")
    if not principal.allows(scopes):
        raise LrsError(403, f"this client's scopes do not allow this request (needs one of {', '.join(scopes)})")
    return principal


def http_date(value: Any) -> str:
    """Format a UTC datetime for Last-Modified."""
    return format_datetime(value, usegmt=True)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise ``body`` compactly as application/json."""
    resp = current_app.response_class(json.dumps(body, separators=(",", ":"), ensure_ascii=False), status=status,
                                      mimetype="application/json")
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp
