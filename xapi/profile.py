"""Our xAPI Profile (``profile/upstander.jsonld``) and a checker for statements against it.

``check`` finds a statement's template by its verb and object type, then applies the template's
determining properties and rules (with the small JSONPath subset the templates use: ``$``,
``.name``, ``['iri']``, ``[*]`` and ``[n]``) and cmi5's statement rules (GUIDE §5).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from xapi import vocab

PROFILE_FILE = "upstander.jsonld"
MEDIA_TYPE = "application/ld+json"

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']*)'\]|\[(\*|\d+)\]")


def profile_text() -> str:
    """Return the profile document as stored in the package."""
    return resources.files("xapi").joinpath("profile", PROFILE_FILE).read_text(encoding="utf-8")


@cache
def load() -> dict[str, Any]:
    """Return the profile, parsed once per process."""
    profile: dict[str, Any] = json.loads(profile_text())
    return profile


@cache
def _templates() -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["verb"], t["objectActivityType"]): t for t in load()["templates"]}


def template_for(statement: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the statement template that a statement's verb and object type select, if any."""
    key = (_get(statement, "verb", "id"), _get(statement, "object", "definition", "type"))
    return _templates().get(key)


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def select(statement: Any, location: str) -> list[Any]:
    """Return the values a JSONPath location (of the subset above) matches in a statement."""
    if not location.startswith("$"):
        raise ValueError(f"unsupported JSONPath {location!r}")
    rest, found = location[1:], [statement]
    while rest:
        step = _STEP.match(rest)
        if step is None:
            raise ValueError(f"unsupported JSONPath {location!r}")
        rest = rest[step.end():]
        found = list(_apply(found, step))
    return found


def _apply(values: list[Any], step: re.Match[str]) -> Iterator[Any]:
    name, quoted, index = step.groups()
    for value in values:
        if index is None:
            key = name if name is not None else quoted
            if isinstance(value, Mapping) and key in value:
                yield value[key]
        elif isinstance(value, list):
            if index == "*":
                yield from value
            elif int(index) < len(value):
                yield value[int(index)]


def _rule_problems(statement: Mapping[str, Any], rule: Mapping[str, Any]) -> list[str]:
    where, values = rule["location"], select(statement, rule["location"])
    presence = rule.get("presence")
    if presence == "included" and not values:
        return [f"{where} is required"]
    if presence == "excluded" and values:
        return [f"{where} is not allowed here"]
    problems = []
    if values and "any" in rule and not any(v in rule["any"] for v in values):
        problems.append(f"{where} must be one of {rule['any']}")
    if values and "all" in rule and not all(v in rule["all"] for v in values):
        problems.append(f"{where} must only hold {rule['all']}")
    if values and "none" in rule and any(v in rule["none"] for v in values):
        problems.append(f"{where} must not hold {rule['none']}")
    return problems


_DETERMINING = {
    "contextGroupingActivityType": "grouping",
    "contextParentActivityType": "parent",
    "contextCategoryActivityType": "category",
}


def _template_problems(statement: Mapping[str, Any], template: Mapping[str, Any]) -> list[str]:
    problems = []
    for prop, kind in _DETERMINING.items():
        types = set(select(statement, f"$.context.contextActivities.{kind}[*].definition.type"))
        problems += [f"context {kind} needs an activity of type {t}" for t in template.get(prop, []) if t not in types]
    for rule in template.get("rules", []):
        problems += _rule_problems(statement, rule)
    return problems


def _cmi5_problems(statement: Mapping[str, Any]) -> list[str]:
    verb = _get(statement, "verb", "id")
    result = statement.get("result") or {}
    problems = []
    if "version" in statement:
        problems.append("version must be left to the LRS")
    if not _is_uuid(statement.get("id")):
        problems.append("id must be a UUID")
    if not _is_utc(statement.get("timestamp")):
        problems.append("timestamp must be an ISO 8601 time in UTC")
    if not _is_uuid(_get(statement, "context", "registration")):
        problems.append("context.registration must be a UUID")
    stage_result = verb == vocab.SCORED and _get(statement, "object", "definition", "type") == vocab.STAGE
    if "score" in result and verb not in vocab.SCORING_VERBS and not stage_result:
        problems.append("a score is only allowed on passed or failed (or a stage result)")
    if "completion" in result and verb != vocab.COMPLETED:
        problems.append("completion is only allowed on completed")
    if verb in vocab.CLOSING_VERBS and not _is_duration(result.get("duration")):
        problems.append("a closing verb needs an ISO 8601 duration")
    return problems


def check(statement: Mapping[str, Any]) -> list[str]:
    """Return what is wrong with a statement under our profile and cmi5's rules; empty when nothing is."""
    problems = _cmi5_problems(statement)
    template = template_for(statement)
    if template is None:
        verb, kind = _get(statement, "verb", "id"), _get(statement, "object", "definition", "type")
        return [*problems, f"no statement template for verb {verb} on an activity of type {kind}"]
    return problems + [p for p in _template_problems(statement, template) if p not in problems]


def _is_uuid(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _is_utc(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.utcoffset() == timedelta(0)


_DURATION = re.compile(r"^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
                       r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$")


def _is_duration(value: Any) -> bool:
    return isinstance(value, str) and _DURATION.match(value) is not None
