"""The tool's pages after a launch: learner and coordinator landing, deep-linking picker."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import BadRequest, Forbidden

from lti_tool import db, security
from lti_tool.catalogue import by_slug, modules
from lti_tool.lti import claims as c
from lti_tool.lti.roles import Role
from lti_tool.models import ToolSession
from lti_tool.schemas.app_pages import DeepLinkChoiceSchema
from lti_tool.services import deep_linking, launches, overview

bp = Blueprint("app_pages", __name__, url_prefix="/app/<sid>")


def _tool_session(sid: str) -> ToolSession:
    token = request.cookies.get(security.SESSION_COOKIE_PREFIX + sid)
    return launches.load_session(db.session(), sid, token)


def _require_coordinator(tool_session: ToolSession) -> None:
    if tool_session.launch.role == Role.LEARNER:
        raise Forbidden("This page is for training coordinators.")


@bp.get("/")
def home(sid: str) -> str:
    """Show the landing page for this launch's role and message."""
    tool_session = _tool_session(sid)
    launch = tool_session.launch
    if launch.message_type == c.DEEP_LINKING_REQUEST:
        _require_coordinator(tool_session)
        return render_template("app/deep_link.html", s=tool_session, modules=modules())
    if launch.role == Role.LEARNER:
        link = launch.resource_link
        module = by_slug(link.module) if link and link.module else None
        return render_template("app/learner.html", s=tool_session, module=module, modules=modules())
    course = overview.course_overview(db.session(), launch)
    return render_template("app/coordinator.html", s=tool_session, course=course, by_slug=by_slug)


@bp.post("/deep-link")
def deep_link(sid: str) -> str:
    """Sign the deep-linking response for the chosen modules and post it back to the platform."""
    tool_session = _tool_session(sid)
    _require_coordinator(tool_session)
    if tool_session.deep_linking is None:
        raise BadRequest("This launch was not a deep-linking request.")
    security.check_csrf(tool_session.csrf_token)
    try:
        data = DeepLinkChoiceSchema().load(
            {"modules": request.form.getlist("modules"), "csrf_token": request.form["csrf_token"]}
        )
    except ValidationError as exc:
        raise BadRequest("Choose at least one module from the list.") from exc
    chosen = [m for m in modules() if m.slug in set(data["modules"])]
    jwt, return_url = deep_linking.response_jwt(
        db.session(), tool_session, chosen, current_app.config["PUBLIC_URL"] + "/lti/launch"
    )
    return render_template("app/deep_link_return.html", jwt=jwt, return_url=return_url, chosen=chosen)
