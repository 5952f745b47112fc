"""Statement validation (xAPI 1.0.3 Data §2 and IEEE 9274.1.1 §4.2): every rule, with the JSON path of the
first property that breaks one."""

from __future__ import annotations

import re
from typing import Any

from xapi.lrs.statements import checks as c
from xapi.lrs.statements.checks import fail

STATEMENT_KEYS = ("id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
                  "version", "attachments")
SUBSTATEMENT_KEYS = ("objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments")
AGENT_KEYS = ("objectType", "name", "mbox", "mbox_sha1sum", "openid", "account")
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
INTERACTION_TYPES = {"true-false", "choice", "fill-in", "long-fill-in", "matching", "performance", "sequencing",
                     "likert", "numeric", "other"}
# Which interaction component lists each interactionType may carry.
COMPONENTS = {"choice": {"choices"}, "sequencing": {"choices"}, "likert": {"scale"},
              "matching": {"source", "target"}, "performance": {"steps"}}
DEFINITION_KEYS = ("name", "description", "type", "moreInfo", "extensions", "interactionType",
                   "correctResponsesPattern", "choices", "scale", "source", "target", "steps")


class StatementValidator:
    """Validate statements for one xAPI version ('1.0.3' or '2.0.0')."""

    def __init__(self, version: str) -> None:
        self.version = version

    def statement(self, st: Any, path: str = "$") -> dict[str, Any]:
        c.obj(st, path, STATEMENT_KEYS, ("actor", "verb", "object"))
        if "id" in st:
            c.uuid(st["id"], f"{path}.id")
        self._core(st, path, sub=False)
        if "stored" in st:
            c.timestamp(st["stored"], f"{path}.stored", self.version)
        if "authority" in st:
            self.authority(st["authority"], f"{path}.authority")
        if "version" in st:
            self._version(st["version"], f"{path}.version")
        return dict(st)

    def _core(self, st: dict[str, Any], path: str, sub: bool) -> None:
        self.actor(st["actor"], f"{path}.actor")
        self.verb(st["verb"], f"{path}.verb")
        self.object(st["object"], f"{path}.object", sub)
        if "result" in st:
            self.result(st["result"], f"{path}.result")
        if "context" in st:
            self.context(st["context"], f"{path}.context", st["object"])
        if "timestamp" in st:
            c.timestamp(st["timestamp"], f"{path}.timestamp", self.version)
        if "attachments" in st:
            self.attachments(st["attachments"], f"{path}.attachments")
        if st["verb"].get("id") == VOIDED and st["object"].get("objectType") != "StatementRef":
            fail(f"{path}.object", "the object of a voiding statement (verb voided) must be a StatementRef")

    def _version(self, value: Any, path: str) -> None:
        allowed = r"1\.0(\.\d+)?" if self.version == "1.0.3" else r"(1\.0|2\.0)(\.\d+)?"
        if not isinstance(value, str) or re.fullmatch(allowed, value) is None:
            fail(path, f"must be a supported xAPI version ({'1.0.x' if self.version == '1.0.3' else '1.0.x or 2.0.x'})")

    # Agents and groups -------------------------------------------------------------------------------------

    def actor(self, value: Any, path: str) -> None:
        if isinstance(value, dict) and value.get("objectType") == "Group":
            self.group(value, path)
        else:
            self.agent(value, path)

    def agent(self, value: Any, path: str) -> None:
        c.obj(value, path, AGENT_KEYS)
        if "objectType" in value and value["objectType"] != "Agent":
            fail(f"{path}.objectType", "must be 'Agent' (or 'Group' for a group)")
        if "name" in value:
            c.string(value["name"], f"{path}.name")
        if self._ifis(value, path) != 1:
            fail(path, "an Agent must have exactly one inverse functional identifier (mbox, mbox_sha1sum, openid, "
                       "account)")

    def group(self, value: Any, path: str) -> None:
        c.obj(value, path, (*AGENT_KEYS, "member"), ("objectType",))
        if value["objectType"] != "Group":
            fail(f"{path}.objectType", "must be 'Group'")
        if "name" in value:
            c.string(value["name"], f"{path}.name")
        count = self._ifis(value, path)
        if count > 1:
            fail(path, "a Group must have at most one inverse functional identifier")
        if count == 0 and "member" not in value:
            fail(f"{path}.member", "an anonymous Group must list its members")
        if "member" in value:
            members = c.array(value["member"], f"{path}.member", allow_empty=count == 1)
            for index, member in enumerate(members):
                self.agent(member, f"{path}.member[{index}]")

    def _ifis(self, value: dict[str, Any], path: str) -> int:
        if "mbox" in value:
            c.mbox(value["mbox"], f"{path}.mbox")
        if "mbox_sha1sum" in value and (not isinstance(value["mbox_sha1sum"], str)
                                        or c.SHA1.match(value["mbox_sha1sum"]) is None):
            fail(f"{path}.mbox_sha1sum", "must be the hex SHA-1 of a mailto IRI (40 hexadecimal digits)")
        if "openid" in value:
            c.iri(value["openid"], f"{path}.openid")
        if "account" in value:
            account = c.obj(value["account"], f"{path}.account", ("homePage", "name"), ("homePage", "name"))
            c.iri(account["homePage"], f"{path}.account.homePage")
            c.string(account["name"], f"{path}.account.name")
        return sum(1 for key in IFIS if key in value)

    def authority(self, value: Any, path: str) -> None:
        self.actor(value, path)
        if value.get("objectType") == "Group" and (len(value.get("member", [])) != 2
                                                   or any(key in value for key in IFIS)):
            fail(path, "a Group authority must be an anonymous group of two agents (OAuth consumer and user)")

    # Verb and objects -------------------------------------------------------------------------------------

    def verb(self, value: Any, path: str) -> None:
        c.obj(value, path, ("id", "display"), ("id",))
        c.iri(value["id"], f"{path}.id")
        if "display" in value:
            c.language_map(value["display"], f"{path}.display")

    def object(self, value: Any, path: str, sub: bool) -> None:
        if not isinstance(value, dict):
            fail(path, "must be a JSON object")
        kind = value.get("objectType", "Activity")
        if kind == "Activity":
            self.activity(value, path)
        elif kind in ("Agent", "Group"):
            self.actor(value, path)
        elif kind == "StatementRef":
            self.statement_ref(value, path)
        elif kind == "SubStatement" and not sub:
            self.substatement(value, path)
        elif kind == "SubStatement":
            fail(f"{path}.objectType", "a SubStatement cannot contain a SubStatement")
        else:
            fail(f"{path}.objectType", "must be Activity, Agent, Group, StatementRef or SubStatement")

    def statement_ref(self, value: Any, path: str) -> None:
        c.obj(value, path, ("objectType", "id"), ("objectType", "id"))
        if value["objectType"] != "StatementRef":
            fail(f"{path}.objectType", "must be 'StatementRef'")
        c.uuid(value["id"], f"{path}.id")

    def substatement(self, value: dict[str, Any], path: str) -> None:
        c.obj(value, path, SUBSTATEMENT_KEYS, ("actor", "verb", "object"))
        self._core(value, path, sub=True)

    def activity(self, value: Any, path: str) -> None:
        c.obj(value, path, ("objectType", "id", "definition"), ("id",))
        c.iri(value["id"], f"{path}.id")
        if "definition" in value:
            self.definition(value["definition"], f"{path}.definition")

    def definition(self, value: Any, path: str) -> None:
        c.obj(value, path, DEFINITION_KEYS)
        for key in ("name", "description"):
            if key in value:
                c.language_map(value[key], f"{path}.{key}")
        for key in ("type", "moreInfo"):
            if key in value:
                c.iri(value[key], f"{path}.{key}")
        if "extensions" in value:
            c.extensions(value["extensions"], f"{path}.extensions")
        kind = value.get("interactionType")
        if kind is not None and (not isinstance(kind, str) or kind not in INTERACTION_TYPES):
            fail(f"{path}.interactionType", f"must be one of {', '.join(sorted(INTERACTION_TYPES))}")
        if "correctResponsesPattern" in value:
            if kind is None:
                fail(f"{path}.correctResponsesPattern", "needs an interactionType")
            for index, item in enumerate(c.array(value["correctResponsesPattern"], f"{path}.correctResponsesPattern")):
                c.string(item, f"{path}.correctResponsesPattern[{index}]")
        for key in ("choices", "scale", "source", "target", "steps"):
            if key in value:
                if kind is None or key not in COMPONENTS.get(kind, set()):
                    fail(f"{path}.{key}", f"is not an interaction component list of interactionType {kind}")
                self._components(value[key], f"{path}.{key}")

    def _components(self, value: Any, path: str) -> None:
        seen: set[str] = set()
        for index, item in enumerate(c.array(value, path)):
            here = f"{path}[{index}]"
            c.obj(item, here, ("id", "description"), ("id",))
            if c.string(item["id"], f"{here}.id") in seen:
                fail(f"{here}.id", "interaction component ids must be unique within their list")
            seen.add(item["id"])
            if "description" in item:
                c.language_map(item["description"], f"{here}.description")

    # Result, context, attachments -------------------------------------------------------------------------

    def result(self, value: Any, path: str) -> None:
        c.obj(value, path, ("score", "success", "completion", "response", "duration", "extensions"))
        if "score" in value:
            self.score(value["score"], f"{path}.score")
        for key in ("success", "completion"):
            if key in value:
                c.boolean(value[key], f"{path}.{key}")
        if "response" in value:
            c.string(value["response"], f"{path}.response")
        if "duration" in value:
            c.duration(value["duration"], f"{path}.duration")
        if "extensions" in value:
            c.extensions(value["extensions"], f"{path}.extensions")

    def score(self, value: Any, path: str) -> None:
        c.obj(value, path, ("scaled", "raw", "min", "max"))
        numbers = {key: c.number(value[key], f"{path}.{key}") for key in ("scaled", "raw", "min", "max")
                   if key in value}
        if "scaled" in numbers and not -1 <= numbers["scaled"] <= 1:
            fail(f"{path}.scaled", "must be between -1 and 1")
        if "min" in numbers and "max" in numbers and numbers["min"] >= numbers["max"]:
            fail(f"{path}.max", "must be greater than min")
        if "raw" in numbers and "min" in numbers and numbers["raw"] < numbers["min"]:
            fail(f"{path}.raw", "must not be less than min")
        if "raw" in numbers and "max" in numbers and numbers["raw"] > numbers["max"]:
            fail(f"{path}.raw", "must not be greater than max")

    def context(self, value: Any, path: str, statement_object: dict[str, Any]) -> None:
        keys: tuple[str, ...] = ("registration", "instructor", "team", "contextActivities", "revision", "platform",
                                 "language", "statement", "extensions")
        if self.version == "2.0.0":
            keys += ("contextAgents", "contextGroups")
        c.obj(value, path, keys)
        if "registration" in value:
            c.uuid(value["registration"], f"{path}.registration")
        if "instructor" in value:
            self.actor(value["instructor"], f"{path}.instructor")
        if "team" in value:
            self.group(value["team"], f"{path}.team")
        if "contextActivities" in value:
            self.context_activities(value["contextActivities"], f"{path}.contextActivities")
        for key in ("revision", "platform"):
            if key in value:
                c.string(value[key], f"{path}.{key}")
                if statement_object.get("objectType", "Activity") != "Activity":
                    fail(f"{path}.{key}", f"{key} is only allowed when the object is an Activity")
        if "language" in value:
            c.language_tag(value["language"], f"{path}.language")
        if "statement" in value:
            self.statement_ref(value["statement"], f"{path}.statement")
        if "extensions" in value:
            c.extensions(value["extensions"], f"{path}.extensions")
        if "contextAgents" in value:
            self._context_members(value["contextAgents"], f"{path}.contextAgents", "contextAgent", "agent")
        if "contextGroups" in value:
            self._context_members(value["contextGroups"], f"{path}.contextGroups", "contextGroup", "group")

    def _context_members(self, value: Any, path: str, kind: str, key: str) -> None:
        for index, item in enumerate(c.array(value, path)):
            here = f"{path}[{index}]"
            c.obj(item, here, ("objectType", key, "relevantTypes"), ("objectType", key))
            if item["objectType"] != kind:
                fail(f"{here}.objectType", f"must be '{kind}'")
            if key == "agent":
                self.agent(item[key], f"{here}.agent")
            else:
                self.group(item[key], f"{here}.group")
            if "relevantTypes" in item:
                types = c.array(item["relevantTypes"], f"{here}.relevantTypes", allow_empty=False)
                for position, iri in enumerate(types):
                    c.iri(iri, f"{here}.relevantTypes[{position}]")

    def context_activities(self, value: Any, path: str) -> None:
        c.obj(value, path, ("parent", "grouping", "category", "other"))
        for key, item in value.items():
            items = item if isinstance(item, list) else [item]
            for index, activity in enumerate(items):
                self.activity(activity, f"{path}.{key}[{index}]" if isinstance(item, list) else f"{path}.{key}")
                if activity.get("objectType", "Activity") != "Activity":
                    fail(f"{path}.{key}", "context activities must be Activities")

    def attachments(self, value: Any, path: str) -> None:
        for index, item in enumerate(c.array(value, path)):
            here = f"{path}[{index}]"
            c.obj(item, here, ("usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"),
                  ("usageType", "display", "contentType", "length", "sha2"))
            c.iri(item["usageType"], f"{here}.usageType")
            c.language_map(item["display"], f"{here}.display")
            if "description" in item:
                c.language_map(item["description"], f"{here}.description")
            if not isinstance(item["contentType"], str) or "/" not in item["contentType"]:
                fail(f"{here}.contentType", "must be an Internet Media Type")
            if isinstance(item["length"], bool) or not isinstance(item["length"], int) or item["length"] < 0:
                fail(f"{here}.length", "must be a non-negative integer")
            if not isinstance(item["sha2"], str) or c.SHA2.match(item["sha2"]) is None:
                fail(f"{here}.sha2", "must be a hexadecimal SHA-2 hash")
            if "fileUrl" in item:
                c.iri(item["fileUrl"], f"{here}.fileUrl")
