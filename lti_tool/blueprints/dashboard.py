"""The compliance dashboard of a course: overview, officers, one officer, requirements, waivers, audit trail.

Every view: ``coordinator_session`` (access), parse with marshmallow, call one service, render. URLs
carry the course's id (``cid``), checked against the session on every request (see dashboard_access).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response as BaseResponse

from lti_tool import db, http, security
from lti_tool.blueprints.dashboard_access import URL_PREFIX, ContextScope, coordinator_session, nav, require_staff
from lti_tool.blueprints.dashboard_access import tool_session as load_session
from lti_tool.catalogue import by_slug, modules
from lti_tool.db import utcnow
from lti_tool.models import ToolSession
from lti_tool.schemas.dashboard import (
    PER_PAGE,
    PageSchema,
    RequirementRowSchema,
    RevokeSchema,
    RosterQuerySchema,
    WaiverSchema,
)
from lti_tool.services import compliance, compliance_audit, compliance_changes, compliance_records, policy, roster
from lti_tool.services import compliance_courses as courses
from lti_tool.services.compliance_changes import ChangeRefused, NotInCourse

bp = Blueprint("dashboard", __name__, url_prefix=URL_PREFIX)

# The roster is read from the LMS on the way in when the last read is older than this (minutes).
DEFAULT_SYNC_MINUTES = 15


def _load(schema: Schema, data: dict[str, Any], message: str) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        raise BadRequest(message) from exc
    return loaded


def _page(s: ToolSession, scope: ContextScope, current: str, template: str, **values: Any) -> str:
    return render_template(template, s=s, scope=scope, nav=nav(s, scope, current), statuses=compliance.STATUSES,
                           labels=compliance.LABELS, due_soon_days=compliance.DUE_SOON_DAYS, **values)


def _sync_on_arrival(scope: ContextScope) -> roster.SyncResult | None:
    minutes = float(current_app.config.get("ROSTER_SYNC_MINUTES", DEFAULT_SYNC_MINUTES))
    return roster.sync_if_stale(db.session(), http.client(), scope.context, now=utcnow(), max_age_minutes=minutes,
                                actor=scope.actor)


def render_overview(s: ToolSession, scope: ContextScope) -> str:
    """Render a course's overview (also the landing page of a coordinator's launch)."""
    _sync_on_arrival(scope)
    summary = compliance.context_summary(db.session(), scope.context_pk, now=utcnow())
    return _page(s, scope, "overview", "dashboard/overview.html", summary=summary,
                 sync=roster.last_sync(db.session(), scope.context_pk))


@bp.get("/")
def home(sid: str) -> BaseResponse:
    """Go to the launch's course, or to the list of courses when the launch names none."""
    s = load_session(sid)
    require_staff(s)
    if s.launch.context_pk is None:
        return redirect(url_for("dashboard.courses_page", sid=sid), code=303)
    return redirect(url_for("dashboard.overview", sid=sid, cid=s.launch.context_pk), code=303)


@bp.get("/courses")
def courses_page(sid: str) -> str:
    """List the courses this person may open: an administrator's whole deployment, else their own."""
    s = load_session(sid)
    role = require_staff(s)
    found = courses.visible(db.session(), s.launch, role)
    return render_template("dashboard/courses.html", s=s, courses=found)


@bp.get("/<int:cid>/")
def overview(sid: str, cid: int) -> str:
    """Show the course at a glance: officers per status and module, due dates, the last roster sync."""
    s, scope = coordinator_session(sid, cid)
    return render_overview(s, scope)


@bp.post("/<int:cid>/roster/sync")
def sync_roster(sid: str, cid: int) -> BaseResponse:
    """Read the roster from the LMS now."""
    s, scope = coordinator_session(sid, cid)
    security.check_csrf(s.csrf_token)
    roster.sync(db.session(), http.client(), scope.context, now=utcnow(), actor=scope.actor)
    return redirect(url_for("dashboard.officers", sid=sid, cid=cid), code=303)


@bp.get("/<int:cid>/officers")
def officers(sid: str, cid: int) -> str:
    """List the course's officers with their status: sortable, filterable, searchable, paginated."""
    s, scope = coordinator_session(sid, cid)
    query = _load(RosterQuerySchema(), request.args.to_dict(), "That filter or sort is not one the table offers.")
    if query["module"] is not None and by_slug(query["module"]) is None:
        raise BadRequest("There is no such module.")
    found = compliance.officer_status(
        db.session(), scope.context_pk, now=utcnow(), sort=query["sort"], descending=query["dir"] == "desc",
        status=query["status"], module=query["module"], search=query["q"], roster=query["roster"],
        page=query["page"], per_page=query["per_page"])
    reqs = compliance.requirements(db.session(), scope.context_pk)
    shown = [q for q in reqs if q.required] or reqs
    return _page(s, scope, "officers", "dashboard/roster.html", result=found, query=query, columns=shown,
                 modules=modules(), per_page_options=PER_PAGE, sync=roster.last_sync(db.session(), scope.context_pk))


@bp.get("/<int:cid>/officers/<int:uid>")
def officer(sid: str, cid: int, uid: int) -> str:
    """Show one officer: status per module, attempts with every choice, stage results, acknowledgements, waivers."""
    s, scope = coordinator_session(sid, cid)
    row = compliance.officer(db.session(), scope.context_pk, uid, now=utcnow())
    if row is None:
        raise NotFound("There is no such officer in this course.")
    record = compliance_records.officer_record(db.session(), uid, scope.deployment_pk)
    waivers = compliance_changes.waivers(db.session(), scope.context_pk, user_pk=uid)
    return _page(s, scope, "officers", "dashboard/officer.html", row=row, record=record, waivers=waivers,
                 modules=modules(), by_slug=by_slug)


@bp.get("/<int:cid>/audit")
def audit(sid: str, cid: int) -> str:
    """Show the audit trail: every change made to the course's requirements, waivers and policy."""
    s, scope = coordinator_session(sid, cid)
    page = _load(PageSchema(), request.args.to_dict(), "There is no such page.")["page"]
    events = compliance_audit.trail(db.session(), scope.context_pk, scope.deployment_pk, page=page)
    return _page(s, scope, "audit", "dashboard/audit.html", events=events, actions=compliance_audit.ACTION_LABELS,
                 by_slug=by_slug)


@bp.get("/<int:cid>/policy")
def policy_page(sid: str, cid: int) -> str:
    """Show the agency's Duty to Intervene policy and the form to publish a new version."""
    s, scope = coordinator_session(sid, cid)
    current = policy.current(db.session(), scope.deployment_pk)
    return _page(s, scope, "policy", "dashboard/policy.html", policy=current)


@bp.get("/<int:cid>/waivers")
def waivers(sid: str, cid: int) -> str:
    """List the course's waivers, in force and revoked."""
    s, scope = coordinator_session(sid, cid)
    found = compliance_changes.waivers(db.session(), scope.context_pk)
    return _page(s, scope, "waivers", "dashboard/waivers.html", waivers=found, by_slug=by_slug)


@bp.post("/<int:cid>/waivers")
def grant_waiver(sid: str, cid: int) -> BaseResponse:
    """Excuse an officer from a module, with a reason."""
    s, scope = coordinator_session(sid, cid)
    security.check_csrf(s.csrf_token)
    data = _load(WaiverSchema(), request.form.to_dict(), "Choose a module and give a reason (at least 5 characters).")
    try:
        compliance_changes.grant_waiver(db.session(), scope.context, scope.actor, data["officer"], data["module"],
                                        data["reason"].strip())
    except NotInCourse as exc:
        raise NotFound("There is no such officer in this course.") from exc
    except ChangeRefused as exc:
        raise BadRequest(str(exc)) from exc
    return redirect(url_for("dashboard.officer", sid=sid, cid=cid, uid=data["officer"]) + "#waivers", code=303)


@bp.post("/<int:cid>/waivers/<int:wid>/revoke")
def revoke_waiver(sid: str, cid: int, wid: int) -> BaseResponse:
    """Revoke a waiver (it stays on record, marked revoked)."""
    s, scope = coordinator_session(sid, cid)
    security.check_csrf(s.csrf_token)
    data = _load(RevokeSchema(), request.form.to_dict(), "Give a reason for revoking (at least 5 characters).")
    try:
        waiver = compliance_changes.revoke_waiver(db.session(), scope.context, scope.actor, wid,
                                                  data["reason"].strip())
    except NotInCourse as exc:
        raise NotFound("There is no such waiver in this course.") from exc
    except ChangeRefused as exc:
        raise BadRequest(str(exc)) from exc
    return redirect(url_for("dashboard.officer", sid=sid, cid=cid, uid=waiver.user_pk) + "#waivers", code=303)


@bp.get("/<int:cid>/requirements")
def requirements(sid: str, cid: int) -> str:
    """Show the requirements form: required modules, due dates, recertification interval, credit minutes."""
    s, scope = coordinator_session(sid, cid)
    reqs = compliance.requirements(db.session(), scope.context_pk)
    return _page(s, scope, "requirements", "dashboard/requirements.html", requirements=reqs,
                 saved=request.args.get("saved"))


@bp.post("/<int:cid>/requirements")
def save_requirements(sid: str, cid: int) -> BaseResponse:
    """Store the course's requirements; each changed module is audited."""
    s, scope = coordinator_session(sid, cid)
    security.check_csrf(s.csrf_token)
    wanted = []
    for entry in modules():
        row = {name: request.form.get(f"{name}-{entry.slug}", "") for name in RequirementRowSchema.FIELDS}
        row["required"] = "true" if row["required"] else "false"
        data = _load(RequirementRowSchema(), row, f"Check the values given for “{entry.title}”.")
        wanted.append(compliance_changes.RequirementInput(module=entry.slug, **data))
    changed = compliance_changes.set_requirements(db.session(), scope.context, scope.actor, wanted)
    return redirect(url_for("dashboard.requirements", sid=sid, cid=cid, saved=changed), code=303)
