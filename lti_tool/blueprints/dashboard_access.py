"""Who may see which course's dashboard: the one access check every dashboard page calls.

Dashboard URLs name the course by its internal id: ``/app/<sid>/dashboard/<int:cid>/...``. The id is
never trusted: ``coordinator_session(sid, cid)`` loads the tool session from its cookie and refuses

- a learner (403 HTML page),
- a coordinator asking for any course but the one they launched from (404, so ids cannot be probed),
- an administrator asking for a course of another deployment or platform (404).

A platform administrator (``Role.ADMINISTRATOR``) sees every course of their own deployment; a
coordinator only their launch's course. Use it first thing in a view::

    from lti_tool.blueprints.dashboard_access import coordinator_session

    @bp.get("/<int:cid>/reports/struggle")
    def struggle(sid: str, cid: int) -> str:
        s, scope = coordinator_session(sid, cid)
        data = analytics.struggle(db.session(), scope.context_pk, ...)
        return render_template("dashboard/reports_struggle.html", s=s, scope=scope, nav=nav(s, scope, "struggle"))

Blueprints of the dashboard share the ``/app/<sid>/dashboard`` prefix (the session cookie's path is
``/app/<sid>/``). ``nav(s, scope, current)`` returns the navigation the dashboard layout renders; the
reports and gradebook pages register their entries in ``NAV`` (see ``NavItem``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for
from werkzeug.exceptions import Forbidden, NotFound

from lti_tool import db
from lti_tool.lti.roles import Role
from lti_tool.models import LtiContext, LtiUser, ToolSession

URL_PREFIX = "/app/<sid>/dashboard"


@dataclass(frozen=True)
class ContextScope:
    """The course a dashboard request is about, and who is asking; every service call is scoped by it."""

    context_pk: int
    deployment_pk: int
    context: LtiContext
    actor: LtiUser
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMINISTRATOR

    @property
    def title(self) -> str:
        return self.context.title or self.context.label or self.context.context_id


def tool_session(sid: str) -> ToolSession:
    """Return the session named in the URL, if this browser holds its cookie (else 401)."""
    from lti_tool.blueprints.app_pages import tool_session as load

    return load(sid)


def require_staff(s: ToolSession) -> Role:
    """Refuse learners: the dashboard is for coordinators and administrators."""
    role = Role(s.launch.role)
    if role == Role.LEARNER:
        raise Forbidden("The compliance dashboard is for training coordinators.")
    return role


def coordinator_session(sid: str, context_pk: int | None = None) -> tuple[ToolSession, ContextScope]:
    """Return the session and the course it may see; ``context_pk`` None means the launch's own course."""
    s = tool_session(sid)
    role = require_staff(s)
    launch = s.launch
    wanted = launch.context_pk if context_pk is None else context_pk
    if wanted is None:
        raise NotFound("This launch names no course: choose one from the list of courses.")
    if role != Role.ADMINISTRATOR and wanted != launch.context_pk:
        raise NotFound("There is no such course in your dashboard.")
    context = db.session().get(LtiContext, wanted)
    if context is None or context.deployment_pk != launch.deployment_pk:
        raise NotFound("There is no such course in your dashboard.")
    scope = ContextScope(context_pk=context.id, deployment_pk=context.deployment_pk, context=context,
                         actor=launch.user, role=role)
    return s, scope


@dataclass(frozen=True)
class NavItem:
    """One entry of the dashboard navigation: a key, a label and the endpoint (takes ``sid`` and ``cid``)."""

    key: str
    label: str
    endpoint: str


# The dashboard's own screens; the reports and gradebook blueprints append theirs at import time, e.g.
#   NAV.append(NavItem("struggle", "Where officers struggle", "dashboard_reports.struggle"))
# and the layout shows them in the marked place (after "Agency policy").
NAV: list[NavItem] = [
    NavItem("overview", "Overview", "dashboard.overview"),
    NavItem("officers", "Officers", "dashboard.officers"),
    NavItem("requirements", "Requirements", "dashboard.requirements"),
    NavItem("waivers", "Waivers", "dashboard.waivers"),
    NavItem("audit", "Audit trail", "dashboard.audit"),
    NavItem("policy", "Agency policy", "dashboard.policy_page"),
    # --- Reserved: "Where officers struggle" and "Exports" (dashboard_reports.py), "Gradebook"
    # (dashboard_gradebook.py) are appended here by their blueprints when the app registers them.
]


@dataclass(frozen=True)
class NavLink:
    """A rendered navigation entry."""

    label: str
    url: str
    current: bool


def nav(s: ToolSession, scope: ContextScope, current: str) -> list[NavLink]:
    """Return the navigation of a course's dashboard with ``current`` marked (``aria-current``)."""
    return [NavLink(item.label, url_for(item.endpoint, sid=s.id, cid=scope.context_pk), item.key == current)
            for item in NAV]
