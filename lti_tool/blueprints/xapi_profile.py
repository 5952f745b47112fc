"""Publish our xAPI Profile (JSON-LD), so LRSs and report writers can read the vocabulary we use."""

from __future__ import annotations

from flask import Blueprint, Response

from xapi import profile

bp = Blueprint("xapi_profile", __name__)


@bp.get("/xapi/profile")
def document() -> Response:
    """Serve the profile exactly as kept in the repository."""
    response = Response(profile.profile_text(), mimetype=profile.MEDIA_TYPE)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response
