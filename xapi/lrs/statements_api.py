"""The Statements resource (xAPI 1.0.3 Communication 2.1, IEEE 9274.1.1 §4.1.6.1): PUT, POST, GET (single or
query, formats, attachments, ``more`` paging) and the Activities resource's GET."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from flask import Blueprint, Response, current_app, json, request
from sqlalchemy import Table

from xapi.db import utcnow
from xapi.lrs.auth import Principal
from xapi.lrs.http import LrsError, contains_nul, db, http_date, json_response, nul_refused, require, xreq
from xapi.lrs.statements import activities, formats, query, store
from xapi.lrs.statements import attachments as att
from xapi.lrs.statements.checks import format_timestamp, uuid
from xapi.lrs.statements.models import StoredStatement
from xapi.lrs.statements.signature import check_signatures
from xapi.lrs.statements.validate import StatementValidator

CONSISTENT = "X-Experience-API-Consistent-Through"
T = cast(Table, StoredStatement.__table__)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/statements", "statements", statements_view, methods=["GET", "PUT", "POST", "HEAD"])
    activities.register(bp)


def statements_view() -> Response:
    """Dispatch on the method; every answer, refusals included, says how consistent the store is."""
    try:
        return _dispatch()
    except LrsError as exc:
        resp = exc.response()
        resp.headers.update(_consistency())
        return resp


def _dispatch() -> Response:
    method = xreq().method
    if method == "PUT":
        return put_statement()
    if method == "POST":
        return post_statements()
    if method == "GET":
        return get_statements()
    raise LrsError(405, f"the Statements resource does not answer {method}")


def _read_body() -> tuple[Any, dict[str, att.Part]]:
    """The JSON statement(s) of a PUT/POST and its attachment parts (multipart/mixed), not yet validated."""
    xr = xreq()
    if xr.content_type == "multipart/mixed":
        parts = att.parse_multipart(xr.body, xr.headers.get("Content-Type", ""))
        if parts[0].content_type != "application/json":
            raise LrsError(400, "the first part of a multipart statement request must be application/json",
                           path="part[0]", rule="statements first")
        try:
            body = json.loads(parts[0].content.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise LrsError(400, f"the statement part is not valid JSON: {exc}") from exc
        return body, _checked_parts(body, parts[1:])
    if xr.content_type not in ("application/json", ""):
        raise LrsError(400, "statements must be sent as application/json or multipart/mixed", path="Content-Type",
                       rule="application/json or multipart/mixed")
    body = xr.json_body()
    return body, _checked_parts(body, [])


def _checked_parts(body: Any, parts: list[att.Part]) -> dict[str, att.Part]:
    if contains_nul(body):
        raise nul_refused("$")
    statements = body if isinstance(body, list) else [body]
    validator = StatementValidator(xreq().version)
    for index, st in enumerate(statements):
        validator.statement(st, f"$[{index}]" if isinstance(body, list) else "$")
    matched = att.check_parts(statements, parts)
    check_signatures(statements, matched)
    return matched


def put_statement() -> Response:
    principal = require("statements/write")
    xr = xreq()
    if "statementId" not in xr.params:
        raise LrsError(400, "PUT needs the statementId parameter", path="statementId", rule="required")
    statement_id = uuid(xr.params["statementId"], "statementId")
    extra = sorted(set(xr.params) - {"statementId"})
    if extra:
        raise LrsError(400, f"unexpected parameter {extra[0]}", path=extra[0], rule="PUT takes only statementId")
    body, parts = _read_body()
    if not isinstance(body, dict):
        raise LrsError(400, "PUT takes one statement (a JSON object)", path="$", rule="a single statement")
    if "id" in body and body["id"].lower() != statement_id.lower():
        raise LrsError(400, "the statement's id differs from statementId", path="$.id",
                       rule="id must equal statementId")
    body["id"] = body.get("id", statement_id)
    session = db()
    store.store(session, [body], principal, xr.version)
    att.save(session, parts)
    return current_app.response_class(status=204, headers=_consistency())


def post_statements() -> Response:
    principal = require("statements/write")
    xr = xreq()
    if xr.params:
        name = sorted(xr.params)[0]
        raise LrsError(400, f"unexpected parameter {name}", path=name, rule="POST takes no parameters")
    body, parts = _read_body()
    statements = body if isinstance(body, list) else [body]
    session = db()
    ids = store.store(session, statements, principal, xr.version)
    att.save(session, parts)
    return json_response(ids, headers=_consistency())


def _consistency() -> dict[str, str]:
    return {CONSISTENT: format_timestamp(utcnow())}


def get_statements() -> Response:
    principal = require("statements/read", "statements/read/mine")
    xr = xreq()
    params = dict(xr.params)
    if "statementId" in params or "voidedStatementId" in params:
        return _get_one(params, principal)
    if "more" in params:
        if len(params) > 1:
            raise LrsError(400, "more takes no other parameters", path="more", rule="more alone")
        q = query.Query.from_token(params["more"])
    else:
        q = query.parse(params, principal, xr.version)
    session = db()
    found, stored, token = query.run(session, q)
    body = {"statements": _formatted(found, q.format), "more": f"{request.path}?more={token}" if token else ""}
    return _respond(body, found, q.attachments, max(stored, default=None))


def _get_one(params: dict[str, str], principal: Principal) -> Response:
    if "statementId" in params and "voidedStatementId" in params:
        raise LrsError(400, "give statementId or voidedStatementId, not both", path="statementId", rule="one of")
    name = "statementId" if "statementId" in params else "voidedStatementId"
    extra = sorted(set(params) - {name, "format", "attachments"})
    if extra:
        raise LrsError(400, f"{extra[0]} cannot be combined with {name}", path=extra[0],
                       rule=f"{name} takes only format and attachments")
    mine = principal.client_id if principal.only_mine else None
    q = query.parse({k: v for k, v in params.items() if k != name}, principal, xreq().version)
    wanted = uuid(params[name], name).lower()
    row = db().execute(T.select().where(T.c.id == wanted)).first()
    if row is None or row.voided != (name == "voidedStatementId") or (mine is not None and row.client_id != mine):
        raise LrsError(404, f"no statement {params[name]}" + (" is voided" if name == "voidedStatementId" else ""))
    return _respond(_formatted([row.data], q.format)[0], [row.data], q.attachments, row.stored)


def _formatted(statements: list[dict[str, Any]], fmt: str) -> list[dict[str, Any]]:
    if fmt == "ids":
        return [formats.ids_format(st) for st in statements]
    if fmt == "canonical":
        languages = formats.accept_languages(xreq().headers.get("Accept-Language"))
        return formats.canonical_format(db(), statements, languages)
    return statements


def _respond(body: Any, statements: list[dict[str, Any]], with_attachments: bool,
             last: datetime | None) -> Response:
    headers = _consistency()
    if last is not None:
        headers["Last-Modified"] = http_date(last)
    if not with_attachments:
        return json_response(body, headers=headers)
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    content, ctype = att.multipart_response(payload, att.load(db(), statements))
    resp = current_app.response_class(content, status=200, content_type=ctype)
    for name, value in headers.items():
        resp.headers[name] = value
    return resp
