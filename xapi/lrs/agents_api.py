"""GET /agents?agent=…: the Person object for an agent (xAPI 1.0.3 Communication §2.4, 2.0 §4.1.6.3).

This LRS does not merge identities across identifiers, so the Person holds the agent's own identifier and
name; the spec allows exactly that ("a Person Object ... containing at least the Agent's identifiers").
"""

from __future__ import annotations

from flask import Blueprint, Response

from xapi.lrs.agent_param import parse_agent, person
from xapi.lrs.http import LrsError, json_response, require, xreq


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/agents", "agents", agents, methods=["GET", "PUT", "POST", "DELETE"])


def agents() -> Response:
    xr = xreq()
    if xr.method != "GET":
        raise LrsError(405, f"{xr.method} is not allowed on /agents; use GET")
    require("all/read", "profile", "statements/read")
    unknown = sorted(set(xr.params) - {"agent"})
    if unknown:
        raise LrsError(400, f"unknown parameter {unknown[0]!r}; /agents takes only 'agent'", path=unknown[0],
                       rule="unknown parameter")
    if "agent" not in xr.params:
        raise LrsError(400, "the 'agent' parameter is required", path="agent", rule="required")
    return json_response(person(parse_agent(xr.params["agent"]), []))
