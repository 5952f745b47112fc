"""Every described JSON endpoint, fuzzed from the OpenAPI description (positive and negative inputs).

Checks: no 5xx, status codes, media types and bodies as described, and no stored data from a rejected request:
a write (PUT, POST, DELETE) answered 4xx leaves the row count of every table unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lti_tool.blueprints.api_docs import description
from tests.api.conftest import CONFIG, ApiContext, routes

WRITES = {"PUT", "POST", "DELETE"}
LEARNER = "u-1001"  # on the demo course's roster
schema = schemathesis.openapi.from_dict(description(), config=CONFIG)


def stored_nothing(before: dict[str, int] | None, api: ApiContext) -> Any:
    """Build the check "no stored data from rejected requests" for one call."""

    def no_stored_data_from_rejected_requests(ctx: Any, response: schemathesis.Response,
                                              case: schemathesis.Case) -> bool | None:
        if before is None or not 400 <= response.status_code < 500:
            return None
        after = api.row_counts()
        changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
        assert not changed, f"a rejected {case.method} stored rows (table: (before, after)): {changed}"
        return True

    return no_stored_data_from_rejected_requests


@schema.parametrize()
# One app (and database) per operation, shared by its examples on purpose: each call is checked on its own.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api(case: schemathesis.Case, app: Flask, api: ApiContext) -> None:
    if case.operation.path not in routes(app):
        pytest.skip(f"{case.operation.path} is not routed by this app yet")
    if case.meta is not None and case.meta.generation.mode == schemathesis.GenerationMode.POSITIVE:
        _aim_at_existing_rows(case, api)
    before = api.row_counts() if case.method.upper() in WRITES else None
    response = case.call(app=app, headers=api.headers_for(case.operation.path))
    case.validate_response(response, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
        stored_nothing(before, api),
    ])


def _aim_at_existing_rows(case: schemathesis.Case, api: ApiContext) -> None:
    """Point a valid case at the line item and learner that exist, so it reaches past the 404s to storing."""
    if "item_id" in (case.path_parameters or {}):
        case.path_parameters["item_id"] = api.line_item_id
    if case.operation.path.endswith("/scores") and isinstance(case.body, dict):
        case.body["userId"] = LEARNER


def test_the_description_is_served(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == description()
