"""LTI protocol endpoints: registration, OIDC login, launch, key set, Canvas config."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from lti_tool import db, http, security
from lti_tool.lti import errors, keys
from lti_tool.models import LoginState
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
    """Begin the OIDC login: remember state and nonce, send the browser to the platform.

    With ``lti_storage_target`` the browser first runs a page that puts the login's secret in the
    platform's storage (LTI Platform Storage), then goes on to the platform; the cookie is set either way.
    """
    params = request.form if request.method == "POST" else request.args
    data = load(LoginSchema(), params.to_dict(), errors.LoginParamsInvalid)
    begun = launches.begin_login(db.session(), launches.LoginRequest(**data), _settings())
    if begun.storage is None:
        response = redirect(begun.url, code=302)
    else:
        response = make_response(render_template("lti/storage_login.html", put=begun.storage, next_url=begun.url))
        _private(response)
    security.set_cross_site_cookie(
        response, security.STATE_COOKIE_PREFIX + begun.state, begun.state,
        max_age=int(current_app.config["LOGIN_STATE_TTL"]), path="/lti/launch",
    )
    return response


@bp.post("/launch")
def launch() -> BaseResponse:
    """Validate the id_token, record the launch and open a tool session.

    Without the state cookie (a browser that blocks the tool's cookies in the LMS iframe) the launch is
    finished through platform storage when the login set it up, or else offered in a new window.
    """
    state = request.form.get("state")
    cookie = request.cookies.get(security.STATE_COOKIE_PREFIX + state) if state else None
    id_token = request.form.get("id_token")
    pending = launches.pending_login(db.session(), state) if state and id_token and cookie is None else None
    if pending is not None:
        return _cookieless(pending, id_token or "")
    opened = launches.complete_launch(db.session(), state, id_token, cookie, http.client(), _settings())
    return _opened(opened, state)


@bp.post("/launch/storage")
def launch_storage() -> BaseResponse:
    """Finish a launch whose browser proved the login by the secret kept in platform storage."""
    form = request.form
    opened = launches.complete_launch(
        db.session(), form.get("state"), form.get("id_token"), None, http.client(), _settings(),
        storage_value=form.get("lti_storage_value"),
    )
    return _opened(opened, None)


def _opened(opened: launches.Opened, state: str | None) -> BaseResponse:
    sid = opened.url_sid
    response = redirect(url_for("app_pages.home", sid=sid), code=303)
    if opened.tool_session.url_bound:
        # The secret is in the URL: no cookie (the browser refuses it), and no Referer to leak it.
        response.headers["Referrer-Policy"] = "no-referrer"
        _private(response)
        return response
    security.set_cross_site_cookie(
        response, security.SESSION_COOKIE_PREFIX + sid, opened.token,
        max_age=int(current_app.config["SESSION_TTL"]), path=f"/app/{sid}/",
    )
    if state:
        response.delete_cookie(security.STATE_COOKIE_PREFIX + state, path="/lti/launch", secure=True,
                               samesite="None", partitioned=True)
    return response


def _cookieless(login: LoginState, id_token: str) -> BaseResponse:
    """Answer a launch that came without its state cookie: platform storage, or a new window."""
    restart = launches.restart_url(login, current_app.config["PUBLIC_URL"])
    storage_origin = launches.auth_origin(login.platform)
    if login.storage_target and login.storage_secret_hash and storage_origin:
        body = render_template(
            "lti/storage_launch.html", state=login.state, id_token=id_token, target=login.storage_target,
            origin=storage_origin, key=launches.storage_key(login.state), restart_url=restart,
        )
        status = 200
    else:
        # Refused as a state mismatch (nothing recorded, the login not consumed), with the way out.
        body = render_template("lti/new_window.html", error=errors.StateMismatch(), restart_url=restart)
        status = errors.StateMismatch.status
    response = make_response(body, status)
    _private(response)
    return response


def _private(response: BaseResponse) -> None:
    # These pages carry one-time secrets (the storage secret, the id_token, a URL-bound session).
    response.headers["Cache-Control"] = "no-store"


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
