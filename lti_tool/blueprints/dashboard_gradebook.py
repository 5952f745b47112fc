"""Dashboard gradebook: the course's line items and every score queued, posted, superseded or refused.

Access goes through ``coordinator_session(sid, cid)`` like every dashboard page: learners get 403,
other courses, deployments and guessed ids 404. The LMS is never called from here: the delivery
worker posts the scores; the one form only queues refused scores again.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from lti_tool import db, security
from lti_tool.blueprints.dashboard_access import NAV, URL_PREFIX, NavItem, coordinator_session, nav
from lti_tool.db import utcnow
from lti_tool.models.gradebook import DEAD, QUEUED, SENT, SUPERSEDED
from lti_tool.services import gradebook, gradebook_delivery

bp = Blueprint("dashboard_gradebook", __name__, url_prefix=URL_PREFIX)

NAV.append(NavItem("gradebook", "Gradebook", "dashboard_gradebook.scores"))

PAGE_SIZE = 50
STATUSES = (QUEUED, SENT, DEAD, SUPERSEDED)


class FilterSchema(Schema):
    """The list's filter and page, from the query string."""

    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))


@bp.get("/gradebook")
def home(sid: str) -> Response:
    """Open the gradebook of the course the coordinator launched from."""
    s, scope = coordinator_session(sid)
    return redirect(url_for("dashboard_gradebook.scores", sid=s.id, cid=scope.context_pk))


@bp.get("/<int:cid>/gradebook")
def scores(sid: str, cid: int) -> str:
    """List the course's line items and its scores with their status and the LMS's answer."""
    s, scope = coordinator_session(sid, cid)
    try:
        # The filter form sends an empty status for "every score".
        args = FilterSchema().load({k: v for k, v in request.args.items() if k in ("status", "page") and v})
    except ValidationError as exc:
        raise BadRequest("Unknown filter or page.") from exc
    offset = (args["page"] - 1) * PAGE_SIZE
    view = gradebook.overview(db.session(), scope.context_pk, status=args["status"], limit=PAGE_SIZE, offset=offset)
    pages = max(1, -(-view.total // PAGE_SIZE))
    requeued = request.args.get("requeued", type=int)
    return render_template("dashboard/gradebook_scores.html", s=s, scope=scope, nav=nav(s, scope, "gradebook"),
                           view=view, status=args["status"], page=args["page"], pages=pages, statuses=STATUSES,
                           requeued=requeued)


@bp.post("/<int:cid>/gradebook/retry")
def retry(sid: str, cid: int) -> Response:
    """Queue the course's refused (dead-lettered) scores again."""
    s, scope = coordinator_session(sid, cid)
    security.check_csrf(s.csrf_token)
    count = gradebook_delivery.retry_dead(db.session(), scope.context_pk, utcnow())
    return redirect(url_for("dashboard_gradebook.scores", sid=s.id, cid=scope.context_pk, requeued=count), code=303)
