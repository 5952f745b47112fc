"""GET /about: the versions this LRS speaks (no authentication needed)."""

from __future__ import annotations

from flask import Blueprint, Response

from xapi.lrs.http import json_response

VERSIONS = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"]


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/about", "about", about, methods=["GET"])


def about() -> Response:
    return json_response({"version": VERSIONS, "extensions": {}})
