"""Statements a coordinator's compliance decisions produce: a waiver (``waived``) and its revocation (voiding).

cmi5 (§9.3.9) has the LMS send ``waived`` when an officer is excused from a unit: ``result.success`` true
and the reason in cmi5's ``reason`` result extension. cmi5 also sets ``result.completion``; our profile
keeps completion to ``completed`` (the officer did not complete anything), so it is left out here. The
coordinator who waived travels as ``context.instructor`` (their LMS account), so an LRS alone tells who
excused whom, why and when. A revoked waiver is corrected the xAPI way, by voiding its statement.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tincan import Extensions, Result

from xapi import vocab
from xapi.builders import StatementContext, build, module_activity, requirements_extension, utc_timestamp

Statement = dict[str, Any]

# cmi5's result extension for the reason of a waiver (cmi5 §9.5.5.1).
EXT_REASON = "https://w3id.org/xapi/cmi5/result/extensions/reason"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@dataclass(frozen=True)
class Coordinator:
    """Who made the decision: an LMS account of the same platform as the officer."""

    issuer: str
    sub: str
    name: str = ""


def _agent(who: Coordinator, with_name: bool) -> dict[str, Any]:
    agent: dict[str, Any] = {"objectType": "Agent", "account": {"homePage": who.issuer, "name": who.sub}}
    if with_name and who.name:
        agent["name"] = who.name
    return agent


def waived(ctx: StatementContext, at: datetime, reason: str, by: Coordinator, *,
           statement_id: str | None = None) -> Statement:
    """The officer was excused from the module in this course by ``by``, for ``reason``."""
    result = Result(success=True, extensions=Extensions({EXT_REASON: reason}))
    body = build(ctx, vocab.WAIVED, module_activity(ctx, describe=True), at, result=result,
                 extensions=requirements_extension(ctx), statement_id=statement_id)
    body["context"]["instructor"] = _agent(by, ctx.learner.identify_by_name)
    return body


def voided(target: str, at: datetime, by: Coordinator, *, identify_by_name: bool = False,
           statement_id: str | None = None) -> Statement:
    """Void an earlier statement (a revoked waiver): xAPI 1.0.3 §2.5, the voiding statement has no context."""
    return {
        "id": statement_id or str(uuid.uuid4()),
        "actor": _agent(by, identify_by_name),
        "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target},
        "timestamp": utc_timestamp(at),
    }
