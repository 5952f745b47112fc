"""``upstander report``: the accreditation report from any conformant LRS alone (no database needed)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import click
import httpx
from flask import Flask, render_template

from lti_tool.db import utcnow
from lti_tool.exports import csv, pdf
from lti_tool.exports.sections import sections, summary
from lti_tool.services import reports_lrs
from lti_tool.services.reports import AccreditationReport

STATIC = Path(__file__).resolve().parent / "static"


def instant(value: str, *, end: bool) -> datetime:
    """Return a date (a whole day, UTC; ``end`` includes it) or an ISO 8601 time as an aware UTC instant."""
    try:
        if "T" not in value and " " not in value:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is neither a date (YYYY-MM-DD) nor an ISO 8601 time") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def html(app: Flask, report: AccreditationReport) -> str:
    """Return the printable report as one self-contained HTML file (styles inlined)."""
    css = (STATIC / "app.css").read_text(encoding="utf-8") + (STATIC / "reports.css").read_text(encoding="utf-8")
    with app.app_context():
        return render_template("dashboard/reports_accreditation.html", s=None, scope=None, report=report,
                               sections=sections(report), summary=summary(report), standalone_css=css)


def _write(output: Path | None, data: bytes) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)


@click.command("report")
@click.option("--lrs", "endpoint", required=True, help="The LRS's xAPI endpoint, e.g. https://lrs.example/xapi/")
@click.option("--auth", default=None, help="KEY:SECRET (visible to other users; prefer --auth-stdin).")
@click.option("--auth-stdin", is_flag=True, help="Read KEY:SECRET from standard input.")
@click.option("--since", required=True, help="First day (YYYY-MM-DD) or an ISO 8601 time.")
@click.option("--until", required=True, help="Last day, included (YYYY-MM-DD), or an ISO 8601 time, excluded.")
@click.option("--context", "context_id", default=None, help="Only this LMS course (LTI context id).")
@click.option("--format", "fmt", type=click.Choice(["csv", "html", "pdf"]), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here (default: standard output).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per LRS request.")
@click.pass_obj
def report(app: Flask, endpoint: str, auth: str | None, auth_stdin: bool, since: str, until: str,
           context_id: str | None, fmt: str, output: Path | None, timeout: float) -> None:
    """Build the accreditation report of a period from an LRS's statements."""
    secret = sys.stdin.readline().strip() if auth_stdin else auth
    if not secret or ":" not in secret:
        raise click.UsageError("give --auth KEY:SECRET or --auth-stdin")
    key, password = secret.split(":", 1)
    start, end = instant(since, end=False), instant(until, end=True)
    if start >= end:
        raise click.BadParameter("the period is empty", param_hint="--since/--until")
    headers = {"X-Experience-API-Version": "1.0.3"}
    try:
        with httpx.Client(auth=(key, password), headers=headers, timeout=timeout) as http:
            built = reports_lrs.build(http, endpoint, start, end, context_id=context_id, generated_at=utcnow(),
                                      generated_by="upstander report (command line)")
    except httpx.HTTPError as exc:
        raise click.ClickException(f"reading the LRS failed: {type(exc).__name__}: {exc}") from exc
    if fmt == "csv":
        _write(output, "".join(csv.stream(built)).encode("utf-8"))
    elif fmt == "html":
        _write(output, html(app, built).encode("utf-8"))
    else:
        _write(output, pdf.render(built))
    if output is not None:
        click.echo(f"{len(built.records)} record(s) of {built.officers} officer(s) written to {output}", err=True)
