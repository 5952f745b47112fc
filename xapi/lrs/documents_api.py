"""HTTP views of the document resources: /activities/state, /activities/profile and /agents/profile.

The three share one shape (xAPI 1.0.3 Communication §2.2, 2.0 §4.1.6): scope parameters, an optional document
id (absent: GET lists ids, State DELETE deletes all), ``since`` on GET, and ETag concurrency. Every parameter is
checked and an unknown one is refused, as the spec requires (Communication §3.2).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app

from xapi.lrs import documents
from xapi.lrs.agent_param import ifi_key, parse_agent
from xapi.lrs.documents import Incoming, Preconditions, Scope
from xapi.lrs.http import LrsError, db, http_date, json_response, require, xreq

METHODS = ["GET", "PUT", "POST", "DELETE"]
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Resource:
    """What distinguishes one document resource from another."""

    kind: str
    id_param: str
    scope_params: tuple[str, ...]  # always required
    optional: tuple[str, ...]
    scope: str  # the OAuth-style scope that grants read and write (1.0.3 Communication §4.2)
    delete_all: bool  # DELETE without the id deletes every document of the scope (State only)


STATE = Resource("state", "stateId", ("activityId", "agent"), ("registration",), "state", delete_all=True)
ACTIVITY_PROFILE = Resource("activity_profile", "profileId", ("activityId",), (), "profile", delete_all=False)
AGENT_PROFILE = Resource("agent_profile", "profileId", ("agent",), (), "profile", delete_all=False)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/activities/state", "state", state, methods=METHODS)
    bp.add_url_rule("/activities/profile", "activity_profile", activity_profile, methods=METHODS)
    bp.add_url_rule("/agents/profile", "agent_profile", agent_profile, methods=METHODS)


def state() -> Response:
    return handle(STATE)


def activity_profile() -> Response:
    return handle(ACTIVITY_PROFILE)


def agent_profile() -> Response:
    return handle(AGENT_PROFILE)


def handle(res: Resource) -> Response:
    """Serve one request to a document resource, whichever method it carries."""
    xr = xreq()
    if xr.method not in METHODS:
        raise LrsError(405, f"{xr.method} is not allowed here")
    if xr.method == "GET":
        require(res.scope, "all/read")
    else:
        require(res.scope)
    params = check_params(res, xr.params, xr.method)
    scope = _scope(res, params)
    doc_id = params.get(res.id_param)
    if xr.method == "GET":
        return _get(scope, doc_id, _since(params.get("since")))
    pre = Preconditions(xr.headers.get("If-Match"), xr.headers.get("If-None-Match"), _blind_put(res, xr.version))
    if xr.method == "DELETE":
        if doc_id is None:
            documents.delete_all(db(), scope)
        else:
            documents.delete_one(db(), scope, doc_id, pre)
        return current_app.response_class(status=204)
    doc = Incoming(xr.body, xr.headers.get("Content-Type") or "application/octet-stream")
    store = documents.put if xr.method == "PUT" else documents.post
    row = store(db(), scope, _required(doc_id, res.id_param), doc, pre)
    resp = current_app.response_class(status=204)
    resp.headers["ETag"] = f'"{row.etag}"'
    return resp


def _blind_put(res: Resource, version: str) -> str:
    # 1.0.3 (Communication §3.1) lets State be overwritten without concurrency headers and requires them on
    # profile PUTs; 2.0 (§4.1.4) answers 409 to a PUT without them over any existing document.
    if version == "2.0.0":
        return "conflict"
    return "allow" if res.kind == "state" else "refuse"


def check_params(res: Resource, params: dict[str, str], method: str) -> dict[str, str]:
    """Refuse unknown, missing and empty parameters; return the parameters."""
    allowed = {*res.scope_params, *res.optional, res.id_param} | ({"since"} if method == "GET" else set())
    for name in params:
        if name not in allowed:
            raise LrsError(400, f"unknown parameter {name!r}; this resource takes {', '.join(sorted(allowed))}",
                           path=name, rule="unknown parameter")
    needed = list(res.scope_params)
    if method in ("PUT", "POST") or (method == "DELETE" and not res.delete_all):
        needed.append(res.id_param)
    for name in needed:
        if name not in params:
            raise LrsError(400, f"the {name!r} parameter is required", path=name, rule="required")
    for name, value in params.items():
        if value == "":
            raise LrsError(400, f"the {name!r} parameter is empty", path=name, rule="non-empty")
    return params


def _scope(res: Resource, params: dict[str, str]) -> Scope:
    activity_id = params.get("activityId")
    if activity_id is not None and not _IRI.match(activity_id):
        raise LrsError(400, "activityId must be an IRI", path="activityId", rule="IRI")
    agent = ifi_key(parse_agent(params["agent"])) if "agent" in params else None
    registration = params.get("registration")
    if registration is not None:
        if not _UUID.match(registration):
            raise LrsError(400, "registration must be a UUID", path="registration", rule="UUID")
        registration = str(uuid.UUID(registration))
    return Scope(res.kind, activity_id, agent, registration)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError as exc:
        raise LrsError(400, "since must be an ISO 8601 timestamp", path="since", rule="Timestamp") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _required(value: str | None, name: str) -> str:
    if value is None:  # check_params makes this unreachable for PUT and POST
        raise LrsError(400, f"the {name!r} parameter is required", path=name, rule="required")
    return value


def _get(scope: Scope, doc_id: str | None, since: datetime | None) -> Response:
    if doc_id is None:
        ids, newest = documents.list_ids(db(), scope, since)
        return json_response(ids, headers={"Last-Modified": http_date(newest)} if newest else None)
    row = documents.get(db(), scope, doc_id)
    if row is None:
        raise LrsError(404, "no such document")
    resp = current_app.response_class(row.content, status=200, content_type=row.content_type)
    resp.headers["ETag"] = f'"{row.etag}"'
    resp.headers["Last-Modified"] = http_date(row.updated)
    return resp
