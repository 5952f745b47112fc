"""LTI protocol endpoints: registration, OIDC login, launch, key set, Canvas config."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from lti_tool import db, http, security
from lti_tool.lti import errors, keys
from lti_tool.schemas.lti import LoginSchema, RegistrationStartSchema, load
from lti_tool.services import launches, registration

bp = Blueprint("lti", __name__, url_prefix="/lti")


def _settings() -> launches.Settings:
    cfg = current_app.config
    return launches.Settings(
        public_url=cfg["PUBLIC_URL"], state_ttl=int(cfg["LOGIN_STATE_TTL"]),
        session_ttl=int(cfg["SESSION_TTL"]), leeway=int(cfg["LAUNCH_LEEWAY"]),
        jwks_max_age=int(cfg["JWKS_CACHE_SECONDS"]),
    )


def _urls() -> registration.ToolUrls:
    return registration.ToolUrls(current_app.config["PUBLIC_URL"])


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse:
    """Begin the OIDC login: remember state and nonce, send the browser to the platform."""
    params = request.form if request.method == "POST" else request.args
    data = load(LoginSchema(), params.to_dict(), errors.LoginParamsInvalid)
    state, url = launches.begin_login(db.session(), launches.LoginRequest(**data), _settings())
    response = redirect(url, code=302)
    security.set_cross_site_cookie(
        response, security.STATE_COOKIE_PREFIX + state, state,
        max_age=int(current_app.config["LOGIN_STATE_TTL"]), path="/lti/launch",
    )
    return response


@bp.post("/launch")
def launch() -> BaseResponse:
    """Validate the id_token, record the launch and open a tool session."""
    state = request.form.get("state")
    cookie = request.cookies.get(security.STATE_COOKIE_PREFIX + state) if state else None
    opened = launches.complete_launch(
        db.session(), state, request.form.get("id_token"), cookie, http.client(), _settings()
    )
    sid = opened.tool_session.id
    response = redirect(url_for("app_pages.home", sid=sid), code=303)
    security.set_cross_site_cookie(
        response, security.SESSION_COOKIE_PREFIX + sid, opened.token,
        max_age=int(current_app.config["SESSION_TTL"]), path=f"/app/{sid}/",
    )
    if state:
        response.delete_cookie(security.STATE_COOKIE_PREFIX + state, path="/lti/launch", secure=True,
                               samesite="None", partitioned=True)
    return response


@bp.get("/jwks")
def jwks() -> Response:
    """Publish the tool's public keys (previous, current and next)."""
    response = jsonify(keys.jwks(db.session()))
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/config.json")
def canvas_config() -> Response:
    """Return a Canvas-style tool configuration for a manual install."""
    return jsonify(registration.canvas_config(_urls()))


@bp.get("/register")
def register() -> str:
    """Run LTI Dynamic Registration with the platform that opened this page."""
    data = load(RegistrationStartSchema(), request.args.to_dict(), errors.RegistrationFailed)
    platform = registration.register_dynamically(
        db.session(), http.client(), data["openid_configuration"], data["registration_token"], _urls()
    )
    return render_template("lti/registered.html", platform=platform)
