"""Operations endpoints: readiness for load balancers and orchestrators, Prometheus metrics.

``/healthz`` (process alive) stays with the site blueprint.
"""

from __future__ import annotations

import ipaddress
import secrets

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from lti_tool.db import sessionmaker_for
from lti_tool.ops import metrics, readiness

bp = Blueprint("ops", __name__)

# Headers a reverse proxy adds: a request carrying one came through a proxy, whatever its peer address.
_FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
def readyz() -> Response:
    """Answer 200 when this instance can serve (database, schema, outbox), else 503 with the failed checks."""
    ready, checks = readiness.run(sessionmaker_for(current_app),
                                  float(current_app.config["READY_OUTBOX_MAX_AGE"]))
    response = jsonify({"status": "ready" if ready else "not ready", "checks": checks})
    response.status_code = 200 if ready else 503
    return _no_store(response)


@bp.get("/metrics", endpoint="metrics")
def scrape() -> Response:
    """Return the Prometheus metrics of every worker and the outbox, to an allowed scraper only."""
    _authorise_scrape()
    body = generate_latest(metrics.registry(sessionmaker_for(current_app)))
    return _no_store(Response(body, content_type=CONTENT_TYPE_LATEST))


def _authorise_scrape() -> None:
    """With METRICS_TOKEN set, require it as a bearer token; without, allow direct loopback requests only."""
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(sent.strip().encode(), token.encode()):
            raise Unauthorized("A bearer token is required.", www_authenticate=WWWAuthenticate("bearer"))
        return
    if not _loopback(request.remote_addr) or any(h in request.headers for h in _FORWARDING_HEADERS):
        raise Forbidden("Metrics are served to this machine only; set UPSTANDER_METRICS_TOKEN to scrape remotely.")


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
