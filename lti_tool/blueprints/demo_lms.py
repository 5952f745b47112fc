"""The demo LMS: a real LTI 1.3 platform in the same app, talking to the tool only over HTTP."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from marshmallow import Schema, ValidationError

from lti_tool import db, http
from lti_tool.demo import ags, auth, course, deep_linking, keys, launch, nrps, oauth, registration, roster
from lti_tool.demo.errors import ApiError, DemoError, OAuthError, PageError
from lti_tool.demo.schemas import LineItemSchema, RegistrationSchema, ScoreSchema, first_error
from lti_tool.demo.site import COURSE_PATH, Site, site_from
from lti_tool.lti import claims as c

bp = Blueprint("demo_lms", __name__, url_prefix="/demo-lms")


def _site() -> Site:
    return site_from(current_app.config)


def _json(body: Any, media_type: str = "application/json", status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.mimetype = media_type
    return response


def _load(schema: Schema, body: Any) -> Any:
    """Validate a JSON body; a refusal names the first field that is wrong."""
    try:
        return schema.load(body if isinstance(body, dict) else {})
    except ValidationError as exc:
        name, message = first_error(exc)
        raise ApiError(f"{name}: {message}", name) from exc


@bp.context_processor
def _course() -> dict[str, Any]:
    # Every demo page shows the course chrome, so every template gets the roster module.
    return {"roster": roster}


@bp.errorhandler(DemoError)
def _refused(exc: DemoError) -> Response | tuple[str, int]:
    if isinstance(exc, OAuthError):
        response = _json({"error": exc.error, "error_description": exc.detail}, status=exc.status)
        response.headers["Cache-Control"] = "no-store"
        return response
    if isinstance(exc, PageError):
        return render_template("demo/error.html", error=exc), exc.status
    body = {"type": "about:blank", "title": exc.title, "status": exc.status, "detail": exc.detail}
    if exc.field:
        body["field"] = exc.field
    response = _json(body, "application/problem+json", exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


# --- Pages for people -------------------------------------------------------------------------


@bp.get("/")
def course_home() -> str:
    """Show the demo course: registration, placements, launch buttons and the gradebook."""
    page = course.course_page(db.session())
    register = page.tool is None or request.args.get("register") == "1"
    start_url = registration.registration_start_url(current_app.config) if register else None
    return render_template("demo/course.html", page=page, register=register, start_url=start_url,
                           tool_origin=_site().tool_url)


@bp.get("/launch/<int:link_id>")
def launch_page(link_id: int) -> str:
    """Show a placement inside the LMS chrome, the tool in an iframe."""
    return _launch(link_id, tamper=request.args.get("tamper") == "1")


@bp.get("/deep-link")
def deep_link_page() -> str:
    """Open the tool's module picker (a Deep Linking request) for the coordinator."""
    return _launch(None, tamper=False)


def _launch(link_id: int | None, tamper: bool) -> str:
    tool = registration.current_tool(db.session())
    if tool is None:
        raise PageError("no tool is registered yet: register Upstander from the course page first")
    user_id = request.args.get("user", "")
    # ?storage=off launches without LTI Platform Storage, to show the tool's new-window fallback.
    storage = request.args.get("storage") != "off"
    started = launch.start(db.session(), _site(), tool, user_id, link_id, tamper, storage)
    return render_template("demo/launch.html", started=started, person=roster.find(user_id), link_id=link_id,
                           tamper=tamper, storage=storage, storage_frame=launch.STORAGE_FRAME)


@bp.get("/platform-storage")
def platform_storage() -> str:
    """Serve the frame that keeps data for the tool during a launch (LTI Platform Storage, by postMessage)."""
    return render_template("demo/platform_storage.html", tool_origin=_site().tool_origin,
                           frame_name=launch.STORAGE_FRAME)


@bp.route("/auth", methods=["GET", "POST"])
def authorization() -> str:
    """OIDC authorization endpoint: answer the tool's login with a form posting the id_token."""
    params = request.form if request.method == "POST" else request.args
    answer = auth.authorize(db.session(), _site(), params.to_dict())
    return render_template("demo/auth.html", answer=answer)


@bp.post("/deep-link/return")
def deep_link_return() -> str:
    """Receive the tool's Deep Linking response and add the chosen modules to the course."""
    token = request.form.get("JWT", "")
    if not token:
        raise PageError("the form field JWT is missing", "JWT")
    added = deep_linking.accept_response(db.session(), _site(), http.client(), token)
    return render_template("demo/deep_link_done.html", added=added)


# --- Endpoints for the tool --------------------------------------------------------------------


@bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    """Publish the platform configuration that Dynamic Registration starts from."""
    return _json(registration.openid_configuration(_site()))


@bp.get("/jwks")
def jwks() -> Response:
    """Publish the platform's public keys."""
    return _json(keys.jwks(db.session()))


@bp.post("/register")
def register() -> Response:
    """Dynamic Registration endpoint: store the tool's client metadata, answer with its client id."""
    authorization = request.headers.get("Authorization")
    token_id = registration.check_registration_token(db.session(), _site(), authorization)
    body: Any = request.get_json(silent=True)
    _load(RegistrationSchema(), body)
    # Stored as sent (validation only checks it): the tool's own metadata, extensions included.
    return _json(registration.register(db.session(), dict(body), token_id))


@bp.post("/token")
def token() -> Response:
    """OAuth2 token endpoint (client_credentials with a signed JWT assertion)."""
    answer = oauth.issue_token(db.session(), _site(), http.client(), request.form.to_dict())
    response = _json(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(COURSE_PATH + "/memberships")
def memberships() -> Response:
    """NRPS: the course roster, paged."""
    oauth.authorize_bearer(db.session(), request.headers.get("Authorization"), c.SCOPE_NRPS)
    args = request.args
    limit, offset = args.get("limit", type=int), args.get("offset", 0, type=int)
    page = nrps.memberships(_site(), limit, offset, args.get("role"))
    response = _json(page.body, nrps.MEDIA_TYPE)
    if page.next_url:
        response.headers["Link"] = f'<{page.next_url}>; rel="next"'
    return response


@bp.get(COURSE_PATH + "/lineitems")
def line_items() -> Response:
    """AGS: the line item container."""
    oauth.authorize_bearer(db.session(), request.headers.get("Authorization"), c.SCOPE_LINEITEM,
                           ags.SCOPE_LINEITEM_READONLY)
    filters = {k: v for k, v in request.args.items() if k in ("resource_id", "tag", "resource_link_id")}
    return _json(ags.list_line_items(db.session(), _site(), filters), ags.CONTAINER_TYPE)


@bp.post(COURSE_PATH + "/lineitems")
def create_line_item() -> Response:
    """AGS: add a line item."""
    oauth.authorize_bearer(db.session(), request.headers.get("Authorization"), c.SCOPE_LINEITEM)
    data = _load(LineItemSchema(), request.get_json(force=True, silent=True))
    return _json(ags.create_line_item(db.session(), _site(), data), ags.LINEITEM_TYPE, 201)


@bp.get(COURSE_PATH + "/lineitems/<int:item_id>")
def line_item(item_id: int) -> Response:
    """AGS: one line item."""
    oauth.authorize_bearer(db.session(), request.headers.get("Authorization"), c.SCOPE_LINEITEM,
                           ags.SCOPE_LINEITEM_READONLY)
    item = ags.get_line_item(db.session(), item_id)
    return _json(ags.line_item_json(_site(), item), ags.LINEITEM_TYPE)


@bp.post(COURSE_PATH + "/lineitems/<int:item_id>/scores")
def post_score(item_id: int) -> Response:
    """AGS: publish a score; every post is kept."""
    oauth.authorize_bearer(db.session(), request.headers.get("Authorization"), c.SCOPE_SCORE)
    if request.mimetype not in (ags.SCORE_TYPE, "application/json"):
        raise ApiError(f"the body must be {ags.SCORE_TYPE}", "Content-Type", 415)
    data = _load(ScoreSchema(), request.get_json(force=True, silent=True))
    return _json(ags.post_score(db.session(), _site(), item_id, data))


@bp.get(COURSE_PATH + "/lineitems/<int:item_id>/results")
def results(item_id: int) -> Response:
    """AGS: the latest result of each user."""
    oauth.authorize_bearer(db.session(), request.headers.get("Authorization"), c.SCOPE_RESULT_READONLY)
    found = ags.results(db.session(), _site(), item_id, request.args.get("user_id"))
    return _json(found, ags.RESULTS_TYPE)
