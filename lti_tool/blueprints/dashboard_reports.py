"""Dashboard reports: where officers struggle (charts and tables), and exports (CSV, printable HTML, PDF).

Every view starts with ``coordinator_session(sid, cid)``: learners get 403, other courses, other
deployments and guessed ids 404. Downloads are attachments with filenames made from safe characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context
from marshmallow import Schema, ValidationError, fields, validates_schema
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from lti_tool import charts, db
from lti_tool.blueprints.dashboard_access import NAV, URL_PREFIX, ContextScope, NavItem, coordinator_session, nav
from lti_tool.catalogue import modules as catalogue
from lti_tool.db import utcnow
from lti_tool.exports import csv, pdf
from lti_tool.exports.sections import sections, summary
from lti_tool.models import ToolSession
from lti_tool.services import analytics, reports_db
from lti_tool.services.reports import AccreditationReport, OfficerModuleRecord

bp = Blueprint("dashboard_reports", __name__, url_prefix=URL_PREFIX)

NAV.extend([NavItem("struggle", "Where officers struggle", "dashboard_reports.struggle"),
            NavItem("exports", "Exports", "dashboard_reports.exports")])

MAX_RANGE_DAYS = 366 * 10


class RangeSchema(Schema):
    """A report's date range: whole days, ``until`` included."""

    since = fields.Date(required=True)
    until = fields.Date(required=True)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: object) -> None:
        if data["since"] > data["until"]:
            raise ValidationError("The start date must not be after the end date.")
        if (data["until"] - data["since"]).days > MAX_RANGE_DAYS:
            raise ValidationError("Choose a period of at most ten years.")


def default_range(today: date) -> tuple[date, date]:
    """Return the default period: the 365 days up to and including today."""
    return today - timedelta(days=364), today


def _range() -> tuple[date, date]:
    if "since" not in request.args and "until" not in request.args:
        return default_range(utcnow().date())
    try:
        data = RangeSchema().load({"since": request.args.get("since", ""), "until": request.args.get("until", "")})
    except ValidationError as exc:
        raise BadRequest("Give the period as two dates (YYYY-MM-DD), the start not after the end.") from exc
    return data["since"], data["until"]


def _instants(since: date, until: date) -> tuple[datetime, datetime]:
    """Return the whole days as ``[start of since, start of the day after until)`` in UTC."""
    return datetime.combine(since, time(), UTC), datetime.combine(until + timedelta(days=1), time(), UTC)


def _who(s: ToolSession) -> str:
    user = s.launch.user
    return f"{user.name} ({user.sub})" if user.name else user.sub


def _report(s: ToolSession, scope: ContextScope, with_choices: bool = True) -> tuple[AccreditationReport, date, date]:
    since, until = _range()
    start, end = _instants(since, until)
    report = reports_db.build(db.session(), scope.context, start, end, generated_at=utcnow(), generated_by=_who(s),
                              with_choices=with_choices)
    return report, since, until


def filename(scope: ContextScope, since: date, until: date, extension: str) -> str:
    """Return a download's filename: only letters, digits, dot, dash and underscore."""
    course = re.sub(r"[^A-Za-z0-9._-]+", "-", scope.context.context_id).strip(".-")[:60] or "course"
    return f"upstander-accreditation-{course}-{since:%Y%m%d}-{until:%Y%m%d}.{extension}"


def _attachment(body: Any, mimetype: str, name: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:cid>/reports/struggle")
def struggle(sid: str, cid: int) -> str:
    """Show success per stage, tactic and rank, and how choices were spread on each decision."""
    s, scope = coordinator_session(sid, cid)
    offered = catalogue()
    module = analytics.module_choices(request.args.get("module"), [m.slug for m in offered])
    data = analytics.struggles(db.session(), scope.context_pk, module)
    return render_template("dashboard/reports_struggle.html", s=s, scope=scope, nav=nav(s, scope, "struggle"),
                           data=data, modules=offered, module=module, charts=charts)


@bp.get("/<int:cid>/reports/exports")
def exports(sid: str, cid: int) -> str:
    """Show the export form: a period, then CSV, the printable report or the PDF."""
    s, scope = coordinator_session(sid, cid)
    since, until = _range()
    return render_template("dashboard/reports_exports.html", s=s, scope=scope, nav=nav(s, scope, "exports"),
                           since=since, until=until)


@bp.get("/<int:cid>/reports/accreditation")
def accreditation(sid: str, cid: int) -> str:
    """Show the printable accreditation report of the period."""
    s, scope = coordinator_session(sid, cid)
    report, since, until = _report(s, scope, with_choices=False)
    return render_template("dashboard/reports_accreditation.html", s=s, scope=scope, report=report,
                           sections=sections(report), summary=summary(report), since=since, until=until)


@bp.get("/<int:cid>/reports/accreditation.csv")
def accreditation_csv(sid: str, cid: int) -> Response:
    """Download one CSV row per officer and module with every accreditation field."""
    s, scope = coordinator_session(sid, cid)
    since, until = _range()
    start, end = _instants(since, until)
    session = db.session()
    report_scope, batches = reports_db.batches(session, scope.context, start, end, generated_at=utcnow(),
                                               generated_by=_who(s))
    # Read and written a batch of officers at a time while the response streams (a whole 10,000-officer
    # course held in memory was hundreds of MB).
    lines = stream_with_context(_encoded(csv.stream_records(report_scope, _each_read_apart(session, batches))))
    return _attachment(lines, "text/csv", filename(scope, since, until, "csv"))


def _each_read_apart(session: Session, batches: Iterator[tuple[OfficerModuleRecord, ...]]
                     ) -> Iterator[OfficerModuleRecord]:
    # The request has committed and closed its session before the body streams; the batches read through
    # that same session object (it begins again). Each batch is read in a short transaction of its own,
    # ended before its lines are sent, so a slow or stalled download holds no snapshot and no locks; the
    # session is closed at the end, also when the client goes away (the server closes the generator).
    try:
        for batch in batches:
            session.commit()
            yield from batch
    finally:
        session.close()


@bp.get("/<int:cid>/reports/choices.csv")
def choices_csv(sid: str, cid: int) -> Response:
    """Download the item-level detail: one CSV row per answered decision."""
    s, scope = coordinator_session(sid, cid)
    report, since, until = _report(s, scope)
    name = filename(scope, since, until, "csv").replace("accreditation", "choices")
    return _attachment(_encoded(csv.stream_choices(report)), "text/csv", name)


@bp.get("/<int:cid>/reports/accreditation.pdf")
def accreditation_pdf(sid: str, cid: int) -> Response:
    """Download the accreditation report as PDF."""
    s, scope = coordinator_session(sid, cid)
    report, since, until = _report(s, scope, with_choices=False)
    return _attachment(pdf.render(report), "application/pdf", filename(scope, since, until, "pdf"))


def _encoded(lines: Iterator[str], chunk: int = 64 * 1024) -> Iterator[bytes]:
    # Lines are joined into chunks of about 64 KB: one write per chunk, not one per line.
    pending: list[str] = []
    size = 0
    for line in lines:
        pending.append(line)
        size += len(line)
        if size >= chunk:
            yield "".join(pending).encode("utf-8")
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode("utf-8")
