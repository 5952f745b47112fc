"""Gather the accreditation report's facts from any conformant LRS, through the xAPI Statements API alone.

Statements are read per verb (initialized, answered, completed, passed, failed, acknowledged, waived)
since the start of the range, following ``more`` links, then grouped by the actor's LMS account and
the registration (one officer in one module). ``since`` in a query compares the LRS's *stored* time,
so the range itself is applied to each statement's own timestamp here (a statement delivered late
still counts on the day it happened). What the statements cannot say is listed in ``LIMITATIONS``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import unquote, urljoin

import httpx

from lti_tool.services.reports import (
    AccreditationReport,
    Acknowledgement,
    AttemptFacts,
    ChoiceMade,
    ModuleFacts,
    OfficerFacts,
    ReportScope,
    WaiverFacts,
    assemble,
)
from xapi import vocab
from xapi.builders import Requirement, utc_timestamp
from xapi.builders_compliance import EXT_REASON

Statement = dict[str, Any]

LIMITATIONS = (
    "Officers who never launched a module are not listed: an LRS only knows people who have statements.",
    "The audit trail of coordinator changes is kept in Upstander's database; from an LRS only waivers "
    "(waived statements, with the coordinator who granted them) can be shown.",
    "Requirements (due dates, recertification, credit minutes) are as the latest statement in the range "
    "carried them; a change made after an officer's last statement is not seen.",
    "Names and agency ids appear only when the agency identifies learners by name in statements.",
    "A required module that nobody played in the period is shown by its id, without title or objectives.",
)
VERBS = (vocab.INITIALIZED, vocab.ANSWERED, vocab.COMPLETED, vocab.PASSED, vocab.FAILED, vocab.ACKNOWLEDGED)


def read_statements(http: httpx.Client, endpoint: str, params: Mapping[str, str]) -> Iterator[Statement]:
    """Yield every statement an LRS returns for a query, following ``more`` links."""
    base = endpoint if endpoint.endswith("/") else endpoint + "/"
    url: str | None = base + "statements"
    query: Mapping[str, str] | None = params
    while url:
        response = http.get(url, params=query)
        response.raise_for_status()
        body = response.json()
        yield from body.get("statements", [])
        more = body.get("more") or ""
        # ``more`` is relative to the LRS's host (xAPI 1.0.3 §2.1.3 StatementResult).
        url, query = (urljoin(base, more), None) if more else (None, None)


def _ext(statement: Statement, key: str) -> Any:
    return ((statement.get("context") or {}).get("extensions") or {}).get(key)


def _at(statement: Statement) -> datetime:
    return datetime.fromisoformat(statement["timestamp"])


def _name(definition: Mapping[str, Any] | None) -> str:
    names = (definition or {}).get("name") or {}
    return str(next(iter(names.values()), "")) if names else ""


def _module_activity(statement: Statement) -> Mapping[str, Any] | None:
    obj = statement.get("object") or {}
    if (obj.get("definition") or {}).get("type") == vocab.MODULE:
        return obj
    parents = ((statement.get("context") or {}).get("contextActivities") or {}).get("parent") or []
    return next((p for p in parents if (p.get("definition") or {}).get("type") == vocab.MODULE), None)


def _slug(activity_id: str, kind: str = "module") -> str:
    return unquote(activity_id.split(f"/activities/{kind}/", 1)[1].split("/", 1)[0])


def _last_segment(activity_id: str) -> str:
    return unquote(activity_id.rsplit("/", 1)[1])


@dataclass
class _Officer:
    issuer: str
    account: str
    name: str = ""
    agency_id: str = ""
    attempts: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    acknowledgement: Acknowledgement | None = None
    waivers: dict[str, WaiverFacts] = field(default_factory=dict)


@dataclass
class _Gathered:
    since: datetime
    until: datetime
    officers: dict[tuple[str, str], _Officer] = field(default_factory=dict)
    modules: dict[str, tuple[datetime, ModuleFacts]] = field(default_factory=dict)
    requirements: tuple[datetime, list[Any]] | None = None
    course: tuple[str, str, str, str] | None = None

    def officer(self, statement: Statement) -> _Officer:
        actor = statement["actor"]
        key = (actor["account"]["homePage"], actor["account"]["name"])
        found = self.officers.setdefault(key, _Officer(*key))
        found.name = actor.get("name") or found.name
        found.agency_id = _ext(statement, vocab.EXT_AGENCY_ID) or found.agency_id
        return found

    def note_context(self, statement: Statement) -> None:
        """Keep the newest module description, requirements and course naming seen."""
        at, module = _at(statement), _module_activity(statement)
        definition = (module or {}).get("definition") or {}
        ext = definition.get("extensions") or {}
        if module and (vocab.EXT_MODULE_OBJECTIVES in ext or vocab.EXT_MODULE_MINUTES in ext):
            slug = _slug(module["id"])
            if slug not in self.modules or self.modules[slug][0] <= at:
                self.modules[slug] = (at, ModuleFacts(slug, _name(definition),
                                                      tuple(ext.get(vocab.EXT_MODULE_OBJECTIVES) or ()),
                                                      ext.get(vocab.EXT_MODULE_MINUTES)))
        required = _ext(statement, vocab.EXT_REQUIREMENTS)
        if required is not None and (self.requirements is None or self.requirements[0] <= at):
            self.requirements = (at, list(required))
        if self.course is None and _ext(statement, vocab.EXT_LTI_CONTEXT) is not None:
            grouping = ((statement.get("context") or {}).get("contextActivities") or {}).get("grouping") or []
            title = next((_name(g.get("definition")) for g in grouping
                          if (g.get("definition") or {}).get("type") == vocab.COURSE), "")
            self.course = (statement["actor"]["account"]["homePage"], str(_ext(statement, vocab.EXT_LTI_DEPLOYMENT)),
                           str(_ext(statement, vocab.EXT_LTI_CONTEXT)), title)

    def in_range(self, statement: Statement) -> bool:
        return self.since <= _at(statement) < self.until

    def attempt(self, officer: _Officer, statement: Statement) -> dict[str, Any] | None:
        """Return the attempt a statement belongs to (by its attempt extension, else the latest started before it)."""
        module = _module_activity(statement)
        if module is None:
            return None
        slug, registration = _slug(module["id"]), (statement.get("context") or {}).get("registration", "")
        number = _ext(statement, vocab.EXT_ATTEMPT)
        if number is None:
            started = [(a["started_at"], n) for (s, r, n), a in officer.attempts.items()
                       if (s, r) == (slug, registration) and a["started_at"] <= _at(statement)]
            number = max(started)[1] if started else None
        return officer.attempts.get((slug, registration, number)) if number is not None else None


def _initialized(g: _Gathered, o: _Officer, s: Statement) -> None:
    module = _module_activity(s)
    if module is not None and g.in_range(s):
        key = (_slug(module["id"]), s["context"]["registration"], int(_ext(s, vocab.EXT_ATTEMPT)))
        o.attempts[key] = {"number": key[2], "version": int(_ext(s, vocab.EXT_CONTENT_VERSION)),
                           "started_at": _at(s), "completed_at": None, "score": None, "passed": None, "choices": []}


def _answered(g: _Gathered, o: _Officer, s: Statement) -> None:
    attempt = g.attempt(o, s)
    if attempt is None:
        return
    definition = s["object"].get("definition") or {}
    response = str((s.get("result") or {}).get("response", ""))
    texts = {c["id"]: next(iter((c.get("description") or {}).values()), c["id"])
             for c in definition.get("choices") or []}
    attempt["choices"].append(ChoiceMade(
        attempt=attempt["number"], screen=_last_segment(s["object"]["id"]), choice=response,
        choice_text=str(texts.get(response, response)), correct=(s.get("result") or {}).get("success"),
        stage=int(_ext(s, vocab.EXT_STAGE)), tactic=_ext(s, vocab.EXT_TACTIC), rank=_ext(s, vocab.EXT_RANK),
        answered_at=_at(s)))


def _completed(g: _Gathered, o: _Officer, s: Statement) -> None:
    attempt = g.attempt(o, s)
    if attempt is not None:
        attempt["completed_at"] = _at(s)


def _judged(g: _Gathered, o: _Officer, s: Statement) -> None:
    attempt = g.attempt(o, s)
    if attempt is not None:
        result = s.get("result") or {}
        attempt["score"] = (result.get("score") or {}).get("scaled")
        attempt["passed"] = bool(result.get("success"))


def _acknowledged(g: _Gathered, o: _Officer, s: Statement) -> None:
    if g.in_range(s) and (o.acknowledgement is None or o.acknowledgement.at <= _at(s)):
        o.acknowledgement = Acknowledgement(int(_ext(s, vocab.EXT_POLICY_VERSION)),
                                            _name(s["object"].get("definition")), _at(s))


def _waived(g: _Gathered, o: _Officer, s: Statement) -> None:
    instructor = (s.get("context") or {}).get("instructor") or {}
    account = (instructor.get("account") or {}).get("name", "unknown")
    by = f"{instructor['name']} ({account})" if instructor.get("name") else account
    reason = str(((s.get("result") or {}).get("extensions") or {}).get(EXT_REASON, ""))
    slug = _slug(s["object"]["id"])
    o.waivers[slug] = WaiverFacts(slug, reason, by, _at(s))


HANDLERS = {vocab.INITIALIZED: _initialized, vocab.ANSWERED: _answered, vocab.COMPLETED: _completed,
            vocab.PASSED: _judged, vocab.FAILED: _judged, vocab.ACKNOWLEDGED: _acknowledged, vocab.WAIVED: _waived}


def _requirements(g: _Gathered) -> dict[str, Requirement]:
    rows = g.requirements[1] if g.requirements else []
    return {q["module"]: Requirement(q["module"], date.fromisoformat(q["dueDate"]) if q.get("dueDate") else None,
                                     int(q.get("recertificationMonths", 12)), q.get("creditMinutes"),
                                     bool(q.get("required", True))) for q in rows}


def _facts(o: _Officer) -> OfficerFacts:
    attempts: dict[str, list[AttemptFacts]] = {}
    for (slug, _, _), a in sorted(o.attempts.items(), key=lambda item: (item[0][0], item[1]["number"])):
        attempts.setdefault(slug, []).append(AttemptFacts(
            number=a["number"], content_version=a["version"], started_at=a["started_at"],
            completed_at=a["completed_at"], score=a["score"], passed=a["passed"],
            choices=tuple(sorted(a["choices"], key=lambda c: c.answered_at))))
    return OfficerFacts(issuer=o.issuer, account=o.account, name=o.name, agency_id=o.agency_id, attempts=attempts,
                        acknowledgement=o.acknowledgement, waivers=dict(o.waivers))


def gather(http: httpx.Client, endpoint: str, since: datetime, until: datetime,
           context_id: str | None = None) -> _Gathered:
    """Read the statements of the range (and every waiver) and sort them into officers and attempts."""
    g = _Gathered(since, until)
    queries = [(verb, {"verb": verb, "since": utc_timestamp(since), "ascending": "true"}) for verb in VERBS]
    queries.append((vocab.WAIVED, {"verb": vocab.WAIVED, "ascending": "true"}))
    for verb, params in queries:
        for statement in read_statements(http, endpoint, params):
            if context_id is not None and _ext(statement, vocab.EXT_LTI_CONTEXT) != context_id:
                continue
            if _at(statement) >= until or "account" not in statement.get("actor", {}):
                continue
            g.note_context(statement)
            HANDLERS[verb](g, g.officer(statement), statement)
    return g


def build(http: httpx.Client, endpoint: str, since: datetime, until: datetime, *, context_id: str | None,
          generated_at: datetime, generated_by: str) -> AccreditationReport:
    """Build the accreditation report for ``[since, until)`` from an LRS (``http`` carries auth and timeouts)."""
    g = gather(http, endpoint, since, until, context_id)
    issuer, deployment, found_context, title = g.course or ("", "", context_id or "", "")
    scope = ReportScope(issuer=issuer, deployment_id=deployment, context_id=context_id or found_context or None,
                        context_title=title, since=since, until=until, generated_at=generated_at,
                        generated_by=generated_by, source=f"LRS {endpoint}")
    modules = {slug: facts for slug, (_, facts) in g.modules.items()}
    return assemble(scope, modules, _requirements(g), [_facts(o) for o in g.officers.values()], [],
                    limitations=LIMITATIONS)


def with_source(report: AccreditationReport, source: str) -> AccreditationReport:
    """Return the report naming another source (e.g. an endpoint without credentials in it)."""
    return replace(report, scope=replace(report.scope, source=source))
