"""The tool's public front page and health check."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("site", __name__)


@bp.get("/")
def index() -> str:
    """Explain what Upstander is and how an LMS connects to it."""
    public = current_app.config["PUBLIC_URL"]
    return render_template("index.html", public=public, demo=current_app.config["DEMO_LMS"],
                           demo_url=current_app.config["DEMO_LMS_URL"] + "/demo-lms/")


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    """Answer that the process is alive."""
    return "ok\n", 200, {"Content-Type": "text/plain"}
