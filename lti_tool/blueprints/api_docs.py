"""Publish the OpenAPI description of the JSON endpoints, so API clients and schema-driven tests can read it."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

bp = Blueprint("api_docs", __name__)


@cache
def description() -> dict[str, Any]:
    """Return the OpenAPI document kept beside the package (read once: it changes only with a release)."""
    text = resources.files("lti_tool").joinpath("openapi.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    # The YAML keeps shared response sets under x- keys as anchors; they are expanded where used.
    return {key: value for key, value in loaded.items() if not key.startswith("x-document-")}


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI description as JSON."""
    response = jsonify(description())
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response
