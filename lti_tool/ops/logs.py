"""Structured logs: one JSON object per line (or text for people), a request id on every line of a request,
and one log line per request written by the app (it replaces gunicorn's access log).

What is never logged: query strings, request bodies, headers (Authorization, cookies), and the values in
URLs: the request line names the Flask endpoint and its URL rule (``/app/<sid>/home``), not the path. Any
``/app/<sid>/`` that another library puts in a message (Flask logs the path of an unhandled exception) is
redacted by the formatters, and so are credentials and query strings in URLs (httpx logs each outbound
request's URL; a filter on its logger cleans the record before any handler sees it).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only when it is short and cannot smuggle anything into a log or a header.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SESSION_PATH = re.compile(r"/app/[^/\s?#\"']+")
# A URL's user:password@ and its ?query (and #fragment) are dropped; scheme, host and path kept.
_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?:[^/\s@\"']*@)?(?P<rest>[^\s?#\"']*)(?:[?#][^\s\"']*)?",
                  re.IGNORECASE)
# Libraries that log URLs of outbound requests.
_LIBRARY_LOGGERS = ("httpx", "httpcore", "urllib3")
# Extra record attributes that may reach a log line; anything else passed as ``extra`` is left out.
FIELDS = ("method", "endpoint", "path", "status", "duration_ms", "remote_addr", "code")
# Probes and scrapes come every few seconds: their successful requests are logged at DEBUG only.
_QUIET_ENDPOINTS = frozenset({"site.healthz", "ops.readyz", "ops.metrics"})

request_log = logging.getLogger("upstander.request")


def redact(text: str) -> str:
    """Replace session ids in ``/app/<sid>`` paths, and credentials and query strings in URLs, in a text."""
    return _SESSION_PATH.sub("/app/<sid>", _URL.sub(r"\g<scheme>\g<rest>", text))


class RedactFilter(logging.Filter):
    """Redact a library's records before any handler (or test capture) sees them.

    httpx logs every request's full URL at INFO: an LRS endpoint given as ``https://user:pass@host/``
    would put the password there, and a query (an LRS ``agent=`` filter) a learner's address.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _install_library_filters() -> None:
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactFilter) for f in logger.filters):
            logger.addFilter(RedactFilter())


def current_request_id() -> str | None:
    """Return the id of the request being handled by this thread, if any."""
    if has_request_context():
        found: str | None = g.get("request_id")
        return found
    return None


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: ts, level, logger, message, request_id and the allowed fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        entry.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exc"] = redact("".join(traceback.format_exception(*record.exc_info)))
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A line for people: time, level, logger, request id, message (redacted like the JSON)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", None) or current_request_id() or "-"
        return redact(super().format(record))


def formatter(config: Mapping[str, Any], default_format: str) -> logging.Formatter:
    """Return the formatter ``LOG_FORMAT`` asks for (``json`` or ``text``; empty: ``default_format``)."""
    chosen = str(config.get("LOG_FORMAT") or default_format).lower()
    if chosen not in ("json", "text"):
        raise ValueError(f"UPSTANDER_LOG_FORMAT must be json or text, not {chosen!r}")
    return JsonFormatter() if chosen == "json" else TextFormatter()


def level(config: Mapping[str, Any]) -> int:
    """Return the numeric level of ``LOG_LEVEL`` (a name such as INFO)."""
    name = str(config.get("LOG_LEVEL") or "INFO").upper()
    found = logging.getLevelNamesMapping().get(name)
    if found is None:
        raise ValueError(f"UPSTANDER_LOG_LEVEL must be a level name such as INFO, not {name!r}")
    return found


def configure(config: Mapping[str, Any], default_format: str) -> logging.Handler:
    """Send every log record at ``LOG_LEVEL`` and above to standard error in the chosen format."""
    _install_library_filters()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(config, default_format))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_upstander", False)]:
        root.removeHandler(old)
    handler._upstander = True  # type: ignore[attr-defined]  # marks our handler for a later reconfigure
    root.addHandler(handler)
    root.setLevel(level(config))
    return handler


def gunicorn_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Gunicorn options: no access log of its own (the app logs each request), its errors in our format."""
    from lti_tool.ops.gunicorn_log import logger_class

    # At most INFO: gunicorn's DEBUG lines repeat each request line with its raw path and query string.
    return {"accesslog": None, "loglevel": logging.getLevelName(max(level(config), logging.INFO)).lower(),
            "logger_class": logger_class(formatter(config, "json"))}


# --- the request id and the request log line ---------------------------------------------------------


def _begin() -> None:
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if _SAFE_ID.fullmatch(sent) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _path() -> str:
    # The URL rule has no values in it; an unmatched path is logged redacted, without its query string.
    rule = request.url_rule
    return rule.rule if rule is not None else redact(request.path)[:200]


def _finish(response: Response) -> Response:
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started is not None else None
    endpoint = request.endpoint or "unmatched"
    if response.status_code >= 500:
        severity = logging.WARNING
    elif endpoint in _QUIET_ENDPOINTS and response.status_code < 400:
        severity = logging.DEBUG
    else:
        severity = logging.INFO
    request_log.log(
        severity, "%s %s %s", request.method[:16], endpoint, response.status_code,
        extra={"method": request.method[:16], "endpoint": endpoint, "path": _path(),
               "status": response.status_code, "duration_ms": duration_ms, "remote_addr": request.remote_addr},
    )
    return response


def init_app(app: Flask) -> None:
    """Give each request an id (echoed in ``X-Request-ID``) and log one line per request.

    Call before every other ``after_request`` hook is added: Flask runs them in reverse, so this one
    runs last and logs the final status.
    """
    _install_library_filters()
    app.before_request(_begin)
    app.after_request(_finish)
