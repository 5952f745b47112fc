"""The ``format`` parameter of GET /statements: ``exact`` (as stored), ``ids`` (only identifiers of agents,
groups, activities and verbs) and ``canonical`` (canonical activity definitions, language maps cut to the
language the client prefers)."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.orm import Session

from xapi.lrs.statements.activities import canonical_definitions
from xapi.lrs.statements.shape import activities_with_definitions

IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")


def _agent_ids(agent: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {key: agent[key] for key in IFI_KEYS if key in agent}
    out["objectType"] = agent.get("objectType", "Agent")
    if out["objectType"] == "Group" and "member" in agent and not any(key in agent for key in IFI_KEYS):
        out["member"] = [_agent_ids(member) for member in agent["member"]]
    return out


def _part_ids(part: dict[str, Any]) -> None:
    part["actor"] = _agent_ids(part["actor"])
    part["verb"] = {"id": part["verb"]["id"]}
    obj = part["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        part["object"] = {"id": obj["id"]}
    elif kind in ("Agent", "Group"):
        part["object"] = _agent_ids(obj)
    elif kind == "SubStatement":
        _part_ids(obj)
    context = part.get("context")
    if context:
        for key in ("instructor", "team"):
            if key in context:
                context[key] = _agent_ids(context[key])
        for name, value in context.get("contextActivities", {}).items():
            items = value if isinstance(value, list) else [value]
            context["contextActivities"][name] = [{"id": a["id"]} for a in items]
        for item in context.get("contextAgents", []):
            item["agent"] = _agent_ids(item["agent"])
        for item in context.get("contextGroups", []):
            item["group"] = _agent_ids(item["group"])


def ids_format(statement: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(statement)
    _part_ids(out)
    if "authority" in out:
        out["authority"] = _agent_ids(out["authority"])
    return out


def pick_language(value: dict[str, str], languages: list[str]) -> dict[str, str]:
    """Keep the one entry of a language map that best matches the Accept-Language list."""
    if not value:
        return value
    lowered = {tag.lower(): tag for tag in value}
    for wanted in languages:
        wanted = wanted.lower()
        if wanted in lowered:
            return {lowered[wanted]: value[lowered[wanted]]}
        for low, tag in lowered.items():
            if low.split("-")[0] == wanted.split("-")[0]:
                return {tag: value[tag]}
    first = next(iter(value))
    return {first: value[first]}


def accept_languages(header: str | None) -> list[str]:
    """Parse Accept-Language into tags in preference order."""
    weighted = []
    for index, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        if not tag or tag == "*":
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def canonical_format(session: Session, statements: list[dict[str, Any]], languages: list[str]) -> list[dict[str, Any]]:
    out = [copy.deepcopy(st) for st in statements]
    ids = {a["id"] for st in out for a in activities_with_definitions(st)}
    canonical = canonical_definitions(session, ids)
    for st in out:
        for activity in activities_with_definitions(st):
            definition = canonical.get(activity["id"], activity.get("definition"))
            if definition:
                activity["definition"] = _cut_definition(copy.deepcopy(definition), languages)
        _cut_maps(st, languages)
    return out


def _cut_definition(definition: dict[str, Any], languages: list[str]) -> dict[str, Any]:
    for key in ("name", "description"):
        if key in definition:
            definition[key] = pick_language(definition[key], languages)
    for key in ("choices", "scale", "source", "target", "steps"):
        for component in definition.get(key, []):
            if "description" in component:
                component["description"] = pick_language(component["description"], languages)
    return definition


def _cut_maps(st: dict[str, Any], languages: list[str]) -> None:
    parts = [st] + ([st["object"]] if st["object"].get("objectType") == "SubStatement" else [])
    for part in parts:
        if "display" in part["verb"]:
            part["verb"]["display"] = pick_language(part["verb"]["display"], languages)
        for attachment in part.get("attachments", []):
            for key in ("display", "description"):
                if key in attachment:
                    attachment[key] = pick_language(attachment[key], languages)
