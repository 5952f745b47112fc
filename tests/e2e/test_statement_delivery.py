"""A learner finishes a module in the demo LMS; the statements reach the built-in LRS.

The served app runs its own delivery loop (``upstander serve`` needs no second process), so the test
only plays the module in Chromium and then reads the LRS through its Statements API, as a reporting
tool would: by the learner's account, then by the attempt's registration.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from lti_tool.demo import roster
from lti_tool.lrs_mount import pepper_for
from xapi.lrs.auth import worker_credentials

from .conftest import SECRET_KEY, Server
from .pages import best_choice, best_path, ensure_placement, launch, read_module, squash

pytestmark = pytest.mark.e2e

SLUG = "intervening-with-a-superior"
DELIVERY_SECONDS = 45
ADL = "http://adlnet.gov/expapi/verbs/"


def _query(server: Server, **params: str) -> list[dict[str, Any]]:
    """Read every statement matching ``params`` from the built-in LRS, following ``more`` links."""
    found: list[dict[str, Any]] = []
    headers = {"X-Experience-API-Version": "1.0.3"}
    with httpx.Client(auth=worker_credentials(pepper_for(SECRET_KEY)), headers=headers, timeout=10) as client:
        response = client.get(server.tool_url + "/xapi/statements", params=params)
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            found.extend(body["statements"])
            if not body.get("more"):
                return found
            response = client.get(server.tool_url + body["more"])


def _play_to_the_end(page: Page, server: Server, learner: roster.Person) -> dict[str, Any]:
    module = read_module(SLUG)
    frame = launch(page, server, ensure_placement(page, server, SLUG), learner)
    frame.get_by_role("button", name="Start").click()
    for screen in best_path(module)[:-1]:
        if screen["type"] == "decision":
            choice = best_choice(screen)
            frame.get_by_role("radio", name=squash(choice["text"]), exact=True).check()
            frame.get_by_role("button", name="Submit answer").click()
        frame.get_by_role("button", name="Continue").click()
    expect(frame.get_by_role("button", name="Try again")).to_be_visible()
    return module


def _wait_for_terminated(server: Server, actor: dict[str, Any]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DELIVERY_SECONDS
    while time.monotonic() < deadline:
        mine = _query(server, agent=json.dumps(actor), verb=ADL + "terminated")
        if mine:
            return mine
        time.sleep(1)
    pytest.fail(f"no terminated statement reached the LRS within {DELIVERY_SECONDS} s:\n{server.log_tail()}")


def test_finishing_a_module_delivers_the_full_sequence_to_the_built_in_lrs(page: Page, server: Server) -> None:
    learner = roster.learners()[2]
    module = _play_to_the_end(page, server, learner)
    actor = {"objectType": "Agent", "account": {"homePage": server.lms_url + "/demo-lms", "name": learner.user_id}}
    registration = _wait_for_terminated(server, actor)[0]["context"]["registration"]

    sequence = _query(server, registration=registration, ascending="true")
    verbs = [statement["verb"]["id"].rsplit("/", 1)[-1] for statement in sequence]
    decisions = sum(1 for screen in best_path(module) if screen["type"] == "decision")
    assert verbs[:2] == ["launched", "initialized"], verbs
    assert verbs.count("answered") == decisions, verbs
    assert verbs.count("scored") == len(module["stages"]), verbs
    assert verbs[-3:] == ["completed", "passed", "terminated"], verbs
    assert len({statement["id"] for statement in sequence}) == len(sequence)
    for statement in sequence:
        assert statement["actor"]["account"] == actor["account"]
        assert "name" not in statement["actor"] and "mbox" not in statement["actor"]
    passed = sequence[verbs.index("passed")]
    assert passed["result"]["success"] is True
    assert passed["result"]["score"]["scaled"] == 1.0
