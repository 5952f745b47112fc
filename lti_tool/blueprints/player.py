"""The module player: server-rendered pages that work without JavaScript, inside the LMS iframe."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, send_from_directory, url_for
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as BaseResponse

from lti_tool import db, player_view, security
from lti_tool.blueprints.app_pages import tool_session
from lti_tool.content import Module, get_content
from lti_tool.lti.errors import LtiError, StaleForm
from lti_tool.models import Attempt, ToolSession
from lti_tool.services import player

bp = Blueprint("player", __name__, url_prefix="/app/<sid>/play/<slug>")


def _module(slug: str) -> Module:
    module = get_content().modules.get(slug)
    if module is None:
        raise NotFound("There is no such module.")
    return module


def _attempt(s: ToolSession, module: Module) -> Attempt:
    attempt = player.latest_attempt(db.session(), s.launch.user, module.slug)
    if attempt is None:
        raise StaleForm("this module has not been started")
    return attempt


def _screen_url(sid: str, slug: str) -> BaseResponse:
    return redirect(url_for("player.screen", sid=sid, slug=slug), code=303)


@bp.errorhandler(StaleForm)
def _stale(exc: LtiError) -> tuple[str, int]:
    db.rollback_request()
    args = request.view_args or {}
    return render_template("app/stale.html", error=exc, sid=args.get("sid"), slug=args.get("slug")), 409


@bp.get("/")
def overview(sid: str, slug: str) -> str:
    """Show the module's start page: objectives, time, sources, and Start, Resume or Try again."""
    s, module = tool_session(sid), _module(slug)
    attempt = player.latest_attempt(db.session(), s.launch.user, slug)
    return render_template("app/module.html", s=s, module=module, attempt=attempt)


@bp.post("/start")
def start(sid: str, slug: str) -> BaseResponse:
    """Resume the attempt in progress, or begin a new one."""
    s, module = tool_session(sid), _module(slug)
    security.check_csrf(s.csrf_token)
    player.start(db.session(), s.launch.user, module, via=s)
    return _screen_url(sid, slug)


@bp.get("/screen")
def screen(sid: str, slug: str) -> str | BaseResponse:
    """Show where the learner is: a screen, the feedback on their last answer, or an ending."""
    s, module = tool_session(sid), _module(slug)
    attempt = player.latest_attempt(db.session(), s.launch.user, slug)
    if attempt is None:
        return redirect(url_for("player.overview", sid=sid, slug=slug), code=303)
    return render_template(
        "app/screen.html", s=s, module=module, attempt=attempt, view=player_view,
        screen=module.screen(attempt.screen), feedback=player_view.feedback_choice(attempt, module),
        progress=player_view.progress(attempt, module), can_go_back=player.can_go_back(attempt, module),
        policy=player.awaiting_policy(db.session(), attempt, module) if attempt.completed_at is None else None,
    )


@bp.post("/answer")
def answer(sid: str, slug: str) -> BaseResponse:
    """Record the learner's choice on the current decision."""
    s, module, attempt = _posted(sid, slug)
    choice = request.form.get("choice")
    if not choice:
        raise StaleForm("choose one of the answers first")
    player.answer(db.session(), attempt, module, request.form.get("screen", ""), choice, via=s)
    return _screen_url(sid, slug)


@bp.post("/continue")
def proceed(sid: str, slug: str) -> BaseResponse:
    """Move on from a teaching screen or from feedback."""
    s, module, attempt = _posted(sid, slug)
    player.proceed(db.session(), attempt, module, request.form.get("screen", ""), via=s)
    return _screen_url(sid, slug)


@bp.post("/acknowledge")
def acknowledge(sid: str, slug: str) -> BaseResponse:
    """Record the learner's acknowledgement of the agency's policy and finish the module."""
    s, module, attempt = _posted(sid, slug)
    if request.form.get("read") != "yes":
        raise StaleForm("tick the box to confirm you have read the policy")
    player.acknowledge(db.session(), attempt, module, request.form.get("screen", ""),
                       request.form.get("version", ""), via=s)
    return _screen_url(sid, slug)


@bp.post("/back")
def back(sid: str, slug: str) -> BaseResponse:
    """Go back one screen where the content allows it."""
    s, module, attempt = _posted(sid, slug)
    player.back(db.session(), attempt, module, request.form.get("screen", ""), via=s)
    return _screen_url(sid, slug)


def _posted(sid: str, slug: str) -> tuple[ToolSession, Module, Attempt]:
    """Check a player form's session, CSRF token and attempt; return the session, module and attempt."""
    s, module = tool_session(sid), _module(slug)
    security.check_csrf(s.csrf_token)
    attempt = _attempt(s, module)
    # A form from an earlier attempt (a stale tab after "Try again") must not touch the new one.
    if request.form.get("attempt") != str(attempt.number):
        raise StaleForm("this page belongs to an earlier attempt")
    return s, module, attempt


@bp.get("/images/<path:name>")
def image(sid: str, slug: str, name: str) -> BaseResponse:
    """Serve a picture of the module from its content folder."""
    return send_from_directory(_module(slug).images, name, max_age=3600)
