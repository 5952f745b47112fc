"""The ``agent`` query parameter of the document and agents resources: an Agent or Identified Group as JSON.

It is checked strictly (xAPI 1.0.3 §2.4.2.1, 2.0 §4.2.2.1): a JSON object with exactly one inverse functional
identifier (mbox, mbox_sha1sum, openid or account) and nothing the spec does not define. Documents are filed
under that identifier alone, so the same learner with or without a ``name`` finds the same documents.
"""

from __future__ import annotations

import json
import re
from typing import Any

from xapi.lrs.http import LrsError

IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
_AGENT_KEYS = {"objectType", "name", *IFIS}
_GROUP_KEYS = _AGENT_KEYS | {"member"}
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")


def _bad(param: str, path: str, rule: str) -> LrsError:
    return LrsError(400, f"the {param!r} parameter is not a valid Agent: {rule}", path=path, rule=rule)


def parse_agent(raw: str, param: str = "agent") -> dict[str, Any]:
    """Parse and check an Agent (or Identified Group) given as JSON text; return it as a dict."""
    try:
        agent = json.loads(raw)
    except ValueError as exc:
        raise _bad(param, param, "must be a JSON object") from exc
    if not isinstance(agent, dict):
        raise _bad(param, param, "must be a JSON object")
    object_type = agent.get("objectType", "Agent")
    if object_type not in ("Agent", "Group"):
        raise _bad(param, f"{param}.objectType", "objectType must be 'Agent' or 'Group'")
    unknown = sorted(set(agent) - (_GROUP_KEYS if object_type == "Group" else _AGENT_KEYS))
    if unknown:
        raise _bad(param, f"{param}.{unknown[0]}", "no such property on an Agent")
    if "name" in agent and not isinstance(agent["name"], str):
        raise _bad(param, f"{param}.name", "name must be a string")
    given = [key for key in IFIS if key in agent]
    if len(given) != 1:
        raise _bad(param, param, "exactly one of mbox, mbox_sha1sum, openid, account is required")
    _check_ifi(param, given[0], agent[given[0]])
    return agent


def _check_ifi(param: str, kind: str, value: Any) -> None:
    path = f"{param}.{kind}"
    if kind == "account":
        _check_account(param, value)
    elif not isinstance(value, str):
        raise _bad(param, path, f"{kind} must be a string")
    elif kind == "mbox" and not (value.startswith("mailto:") and "@" in value):
        raise _bad(param, path, "mbox must be a mailto: IRI")
    elif kind == "mbox_sha1sum" and not _SHA1.match(value):
        raise _bad(param, path, "mbox_sha1sum must be 40 hexadecimal digits")
    elif kind == "openid" and not _IRI.match(value):
        raise _bad(param, path, "openid must be an absolute URI")


def _check_account(param: str, account: Any) -> None:
    path = f"{param}.account"
    if not isinstance(account, dict) or set(account) - {"homePage", "name"}:
        raise _bad(param, path, "account must be an object with homePage and name only")
    home, name = account.get("homePage"), account.get("name")
    if not isinstance(home, str) or not _IRI.match(home):
        raise _bad(param, f"{path}.homePage", "homePage must be an IRL")
    if not isinstance(name, str) or not name:
        raise _bad(param, f"{path}.name", "name must be a non-empty string")


def ifi_key(agent: dict[str, Any]) -> str:
    """Return a canonical text for the agent's identifier: the key its documents are filed under."""
    for kind in IFIS:
        if kind in agent:
            value = agent[kind]
            if kind == "account":
                return "account:" + json.dumps([value["homePage"], value["name"]], ensure_ascii=False)
            return f"{kind}:{value.lower() if kind == 'mbox_sha1sum' else value}"
    raise ValueError("agent without an identifier")  # parse_agent makes this unreachable


def person(agent: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Build the Person object (1.0.3 §2.4.2.2 of Communication) for an agent and the names seen for it."""
    found = [agent["name"]] if isinstance(agent.get("name"), str) else []
    found += [name for name in names if name not in found]
    result: dict[str, Any] = {"objectType": "Person", "name": found}
    for kind in IFIS:
        if kind in agent:
            result[kind] = [agent[kind]]
    return result
