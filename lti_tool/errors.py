"""Render every error in one place: HTML pages for people, problem+json for APIs."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from lti_tool.db import rollback_request
from lti_tool.lti.errors import LtiError

log = logging.getLogger(__name__)


def wants_json() -> bool:
    """Return True when the client is an API client rather than a browser."""
    if request.path.startswith(("/api/", "/demo-lms/api/", "/xapi/")) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def problem(status: int, title: str, detail: str | None = None, code: str | None = None) -> Response:
    """Return an RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if code:
        body["code"] = code
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _lti_error(exc: LtiError) -> Response | tuple[str, int]:
    rollback_request()
    g.lti_error_code = exc.code  # the reason label of the launch rejection metric (lti_tool.ops.metrics)
    log.info("refused: %s", exc.code, extra={"code": exc.code, "detail": exc.detail})
    if wants_json():
        return problem(exc.status, exc.message, exc.detail, exc.code)
    return render_template("error.html", error=exc), exc.status


def _http_error(exc: HTTPException) -> Response:
    rollback_request()
    status = exc.code or 500
    if wants_json():
        response = problem(status, exc.name, exc.description)
    else:
        response = Response(render_template("http_error.html", status=status, title=exc.name,
                                            detail=exc.description), status, mimetype="text/html")
    # Keep what the exception says beyond its body: WWW-Authenticate on a 401, Allow on a 405.
    for name, value in exc.get_headers():
        if name in ("WWW-Authenticate", "Allow", "Retry-After"):
            response.headers.add(name, value)
    return response


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(LtiError, _lti_error)
    app.register_error_handler(HTTPException, _http_error)
