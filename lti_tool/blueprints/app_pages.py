"""The tool's pages after a launch: learner and coordinator landing, deep-linking picker."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.exceptions import BadRequest, Forbidden
from werkzeug.wrappers import Response as BaseResponse

from lti_tool import db, security
from lti_tool.catalogue import by_slug, modules
from lti_tool.lti import claims as c
from lti_tool.lti.roles import Role
from lti_tool.models import ToolSession
from lti_tool.schemas.app_pages import DeepLinkChoiceSchema, PolicySchema
from lti_tool.services import deep_linking, launches, overview, player, policy

bp = Blueprint("app_pages", __name__, url_prefix="/app/<sid>")


def tool_session(sid: str) -> ToolSession:
    """Return the session named in the URL, if this browser holds its cookie (or the URL its secret)."""
    token = request.cookies.get(security.SESSION_COOKIE_PREFIX + sid)
    s = launches.load_session(db.session(), sid, token)
    if s.url_bound:
        # Templates and views build links from ``s.id``; _keep_url_secret puts the secret back into them.
        g.url_bound_sid = (s.id, sid)
    return s


@bp.app_url_defaults
def _keep_url_secret(endpoint: str, values: dict[str, Any]) -> None:
    # A URL-bound session (opened through platform storage: no cookies) needs its secret in every link.
    bound: tuple[str, str] | None = g.get("url_bound_sid")
    if bound is not None and values.get("sid") == bound[0]:
        values["sid"] = bound[1]


@bp.after_app_request
def _no_referrer_for_url_secrets(response: Response) -> Response:
    # The secret in this page's URL must not travel in Referer, even to this origin (its access logs).
    if g.get("url_bound_sid") is not None:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _require_coordinator(s: ToolSession) -> None:
    if s.launch.role == Role.LEARNER:
        raise Forbidden("This page is for training coordinators.")


@bp.get("/")
def home(sid: str) -> str | BaseResponse:
    """Show the landing page for this launch's role and message."""
    s = tool_session(sid)
    launch = s.launch
    if launch.message_type == c.DEEP_LINKING_REQUEST:
        _require_coordinator(s)
        return render_template("app/deep_link.html", s=s, modules=modules())
    if launch.role == Role.LEARNER:
        link = launch.resource_link
        if link and link.module and by_slug(link.module):
            return redirect(url_for("player.overview", sid=sid, slug=link.module), code=303)
        latest = player.latest_attempts(db.session(), launch.user)
        return render_template("app/learner.html", s=s, modules=modules(), latest=latest)
    if launch.context_pk is not None:
        # A coordinator's (or administrator's) launch from a course lands on that course's dashboard.
        from lti_tool.blueprints import dashboard, dashboard_access

        return dashboard.render_overview(*dashboard_access.coordinator_session(sid))
    course = overview.course_overview(db.session(), launch)
    agency_policy = policy.current(db.session(), launch.deployment_pk)
    return render_template("app/coordinator.html", s=s, course=course, by_slug=by_slug, policy=agency_policy)


@bp.post("/policy")
def publish_policy(sid: str) -> BaseResponse:
    """Attach a new version of the agency's Duty to Intervene policy."""
    s = tool_session(sid)
    _require_coordinator(s)
    security.check_csrf(s.csrf_token)
    try:
        data = PolicySchema().load(request.form.to_dict())
    except ValidationError as exc:
        raise BadRequest("Give the policy a title and its full text (at least 20 characters).") from exc
    policy.publish(db.session(), s.launch.user, data["title"].strip(), data["text"].strip())
    if s.launch.context_pk is not None:
        return redirect(url_for("dashboard.policy_page", sid=sid, cid=s.launch.context_pk), code=303)
    return redirect(url_for("app_pages.home", sid=sid) + "#policy", code=303)


@bp.post("/deep-link")
def deep_link(sid: str) -> str:
    """Sign the deep-linking response for the chosen modules and post it back to the platform."""
    s = tool_session(sid)
    _require_coordinator(s)
    if s.deep_linking is None:
        raise BadRequest("This launch was not a deep-linking request.")
    security.check_csrf(s.csrf_token)
    try:
        data = DeepLinkChoiceSchema().load(
            {"modules": request.form.getlist("modules"), "csrf_token": request.form["csrf_token"]}
        )
    except ValidationError as exc:
        raise BadRequest("Choose at least one module from the list.") from exc
    chosen = [m for m in modules() if m.slug in set(data["modules"])]
    jwt, return_url = deep_linking.response_jwt(
        db.session(), s, chosen, current_app.config["PUBLIC_URL"] + "/lti/launch"
    )
    return render_template("app/deep_link_return.html", jwt=jwt, return_url=return_url, chosen=chosen)
