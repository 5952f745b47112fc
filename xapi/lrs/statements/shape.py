"""What a statement says about itself for storage and comparison: agent keys, the agents and activities it
mentions (direct and related), and the normal form two statements are compared in (immutability, signatures)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from xapi.lrs.statements.checks import DURATION, TIMESTAMP, format_timestamp, parse_timestamp
from xapi.lrs.statements.models import DIRECT, RELATED


def agent_key(agent: dict[str, Any] | None) -> str | None:
    """A string identifying an Agent or identified Group by objectType and IFI; None for anonymous groups."""
    if not isinstance(agent, dict):
        return None
    kind = agent.get("objectType", "Agent")
    if "mbox" in agent:
        return f"{kind}|mbox|{agent['mbox']}"
    if "mbox_sha1sum" in agent:
        return f"{kind}|sha1|{str(agent['mbox_sha1sum']).lower()}"
    if "openid" in agent:
        return f"{kind}|openid|{agent['openid']}"
    if isinstance(agent.get("account"), dict):
        account = agent["account"]
        return f"{kind}|account|{account.get('homePage')}|{account.get('name')}"
    return None


def _agent_keys(agent: Any) -> set[str]:
    """The keys of an agent or group and of a group's members."""
    if not isinstance(agent, dict):
        return set()
    keys = {key for key in [agent_key(agent)] if key}
    for member in agent.get("member", []) if agent.get("objectType") == "Group" else []:
        keys |= _agent_keys(member)
    return keys


def mentioned_agents(st: dict[str, Any]) -> set[tuple[str, int]]:
    """(agent key, scope) pairs: DIRECT for the actor and an agent object, RELATED for every agent mentioned."""
    direct = _agent_keys(st.get("actor"))
    obj = st.get("object", {})
    if obj.get("objectType") in ("Agent", "Group"):
        direct |= _agent_keys(obj)
    related = set(direct) | _agent_keys(st.get("authority"))
    parts = [st] + ([obj] if obj.get("objectType") == "SubStatement" else [])
    for part in parts:
        related |= _agent_keys(part.get("actor"))
        sub_object = part.get("object", {})
        if sub_object.get("objectType") in ("Agent", "Group"):
            related |= _agent_keys(sub_object)
        context = part.get("context", {})
        related |= _agent_keys(context.get("instructor")) | _agent_keys(context.get("team"))
        for item in context.get("contextAgents", []):
            related |= _agent_keys(item.get("agent"))
        for item in context.get("contextGroups", []):
            related |= _agent_keys(item.get("group"))
    return {(key, DIRECT) for key in direct} | {(key, RELATED) for key in related}


def _context_activities(part: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for value in part.get("context", {}).get("contextActivities", {}).values():
        found.extend(value if isinstance(value, list) else [value])
    return found


def activities_with_definitions(st: dict[str, Any]) -> list[dict[str, Any]]:
    """Every activity object in a statement (object, context activities, and the same in a SubStatement)."""
    obj = st.get("object", {})
    parts = [st] + ([obj] if obj.get("objectType") == "SubStatement" else [])
    found: list[dict[str, Any]] = []
    for part in parts:
        target = part.get("object", {})
        if target.get("objectType", "Activity") == "Activity":
            found.append(target)
        found.extend(_context_activities(part))
    return found


def mentioned_activities(st: dict[str, Any]) -> set[tuple[str, int]]:
    """(activity id, scope) pairs: DIRECT for the object, RELATED for every activity mentioned."""
    obj = st.get("object", {})
    pairs = {(activity["id"], RELATED) for activity in activities_with_definitions(st)}
    if obj.get("objectType", "Activity") == "Activity":
        pairs.add((obj["id"], DIRECT))
    return pairs


IGNORED = ("id", "stored", "authority", "version")


def comparable(st: dict[str, Any]) -> Any:
    """The normal form used to decide whether two statements are the same (xAPI 2.0 §4.2.7 / 1.0.3 Data 2.3):
    ignoring id, stored, authority and version, defaults made explicit, case-insensitive UUIDs, timestamps as
    instants to the millisecond, durations to the hundredth of a second, numbers by value."""
    data = {key: value for key, value in copy.deepcopy(st).items() if key not in IGNORED}
    return _normal(data, "")


def _normal(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        out = {k: _normal(v, k) for k, v in value.items()}
        if key == "contextActivities":  # a single activity means an array of one
            out = {k: sorted(v if isinstance(v, list) else [v], key=repr) for k, v in out.items()}
        if key == "object" and "objectType" not in out:
            out["objectType"] = "Activity"
        if key in ("actor", "instructor") or (key == "member"):
            out.setdefault("objectType", "Agent")
        return out
    if isinstance(value, list):
        return [_normal(v, key) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return Decimal(str(value)).normalize()
    if isinstance(value, str):
        return _normal_string(value, key)
    return value


def _normal_string(value: str, key: str) -> str:
    if key in ("timestamp", "stored") and TIMESTAMP.match(value):
        try:
            return format_timestamp(parse_timestamp(value))
        except ValueError:
            return value
    if key == "duration" and DURATION.match(value):
        return _truncate_duration(value)
    if key in ("registration", "id") and len(value) == 36 and value.count("-") == 4:
        return value.lower()
    if key == "mbox_sha1sum":
        return value.lower()
    return value


def _truncate_duration(value: str) -> str:
    """Drop precision beyond 0.01 s in the seconds of a duration."""
    if "." not in value or not value.endswith("S"):
        return value
    head, _, fraction = value[:-1].rpartition(".")
    return f"{head}.{(fraction + '00')[:2]}S".replace(".00S", "S")


def member_type(value: dict[str, Any]) -> str:
    return str(value.get("objectType", "Agent"))


def object_columns(st: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(object_type, object_key, object_ref) of a statement's object."""
    obj = st["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        return kind, obj["id"], None
    if kind in ("Agent", "Group"):
        return kind, agent_key(obj), None
    if kind == "StatementRef":
        return kind, obj["id"].lower(), obj["id"].lower()
    return kind, None, None
