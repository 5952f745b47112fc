"""The built-in learning record store: xAPI 1.0.3 and 2.0.0, served by any Flask app.

``init_app(app, settings)`` mounts it (the tool mounts it at ``/xapi``; ``create_lrs_app`` in
:mod:`xapi.lrs.app` serves it alone). Resources live in their own modules and register their
routes on the one blueprint; each dispatches on :func:`xapi.lrs.http.xreq`'s method, because the
1.0.3 alternate request syntax carries every method inside a POST.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, g
from sqlalchemy.orm import Session

from xapi.lrs import about, auth, http
from xapi.lrs.http import LrsError

RESOURCE_METHODS = ["GET", "PUT", "POST", "DELETE"]


@dataclass(frozen=True)
class LrsSettings:
    """What the LRS needs from its host app."""

    session_factory: Callable[[], Session]
    pepper: bytes  # keys the hash of client secrets
    home_page: str  # the authority's account homePage: the LRS's public base URL


def create_blueprint() -> Blueprint:
    """Build the blueprint with every resource's routes and the shared request hooks."""
    bp = Blueprint("xapi_lrs", __name__)
    bp.before_request(_begin)
    bp.after_request(http.finish)
    bp.teardown_request(_teardown)
    bp.register_error_handler(LrsError, _refused)
    about.register(bp)
    for register in _resource_modules():
        register(bp)
    return bp


def _resource_modules() -> list[Callable[[Blueprint], None]]:
    # Imported here so a resource module may import this package's helpers freely.
    from xapi.lrs import agents_api, documents_api, statements_api

    return [statements_api.register, documents_api.register, agents_api.register]


def init_app(app: Flask, settings: LrsSettings, url_prefix: str = "/xapi") -> None:
    app.extensions["xapi.lrs"] = settings
    app.register_blueprint(create_blueprint(), url_prefix=url_prefix)


def _begin() -> Response | None:
    xr = http.parse_request()
    g.xapi_request = xr
    is_about = (current_app.view_functions.get("xapi_lrs.about") is not None
                and _endpoint() == "xapi_lrs.about")
    settings: LrsSettings = current_app.extensions["xapi.lrs"]
    try:
        http.negotiate(xr, about=is_about)
    except LrsError:
        # Refused for its version header: answer in the version this client last spoke, if it is known.
        principal = None if is_about or http.requested_version(xr) else _principal(settings, xr)
        if principal is not None and principal.last_version:
            xr.version = principal.last_version
        raise
    if xr.method == "HEAD":
        xr.method = "GET"  # Flask drops the body of a HEAD response itself
    if is_about:
        return None
    xr.principal = _principal(settings, xr)
    if xr.principal is None:
        raise LrsError(401, "missing or wrong credentials (HTTP Basic with an LRS client key and secret)")
    auth.note_version(settings.session_factory, xr.principal, xr.version)
    return None


def _principal(settings: LrsSettings, xr: http.XRequest) -> auth.Principal | None:
    return auth.authenticate(http.db(), settings.pepper, xr.headers.get("Authorization"), settings.home_page)


def _endpoint() -> str | None:
    from flask import request

    return request.endpoint


def _refused(exc: LrsError) -> Response:
    return exc.response()


def _teardown(exc: BaseException | None) -> None:
    session: Session | None = g.pop("xapi_lrs_session", None)
    if session is not None:
        session.rollback()
        session.close()
