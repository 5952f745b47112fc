"""Build Upstander's xAPI statements with ``tincan`` objects and return them as JSON-ready dicts.

One builder per event (see ``xapi.builders_events``); this module holds what they share: the
learner and module a statement is about, and the assembly that handles tincan's quirks (GUIDE §5):
we set the id (a UUID4) ourselves, drop ``version`` (xAPI 1.0.3 §2.4.10: set by the LRS), require
timezone-aware timestamps (the moment of the event, written in UTC) and write durations in ISO 8601.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tincan import (
    Activity,
    ActivityDefinition,
    ActivityList,
    Agent,
    AgentAccount,
    Context,
    ContextActivities,
    Extensions,
    LanguageMap,
    Result,
    Statement,
    Verb,
)

from xapi import vocab

XAPI_VERSION = "1.0.3"


@dataclass(frozen=True)
class Learner:
    """Who a statement is about: an LMS account, and a name and e-mail only if the agency allows."""

    issuer: str
    sub: str
    name: str = ""
    email: str = ""
    identify_by_name: bool = False
    # The agency's own id for the officer (badge or licence number), sent only with identify_by_name.
    agency_id: str = ""


@dataclass(frozen=True)
class Course:
    """The LMS course (LTI context) the learner launched from."""

    context_id: str
    title: str = ""


@dataclass(frozen=True)
class ModuleRef:
    """The module (and its curriculum) a statement is about, at one content version."""

    slug: str
    title: str
    version: int
    curriculum_id: str
    curriculum_title: str
    # What the module teaches and its estimated minutes, for reports read from an LRS alone.
    objectives: tuple[str, ...] = ()
    minutes: int | None = None


@dataclass(frozen=True)
class Requirement:
    """What the course asks of its officers for one module, as the coordinator set it."""

    module: str
    due_date: date | None = None
    recert_months: int = 12
    credit_minutes: int | None = None
    required: bool = True

    def as_json(self) -> dict[str, Any]:
        """Return the requirement as the ``course-requirements`` extension lists it."""
        return {"module": self.module, "required": self.required,
                "dueDate": self.due_date.isoformat() if self.due_date else None,
                "recertificationMonths": self.recert_months, "creditMinutes": self.credit_minutes}


@dataclass(frozen=True)
class StatementContext:
    """Everything every statement of one learner's session in one module carries."""

    base_url: str
    learner: Learner
    deployment_id: str
    registration: str
    session_id: str
    module: ModuleRef
    course: Course | None = None
    language: str = "en"
    # The course's module requirements when the statement is made (None: not known or no course).
    requirements: tuple[Requirement, ...] | None = None


def utc_timestamp(at: datetime) -> str:
    """Return an aware datetime as an xAPI timestamp in UTC with milliseconds."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("statement timestamps must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lang(text: str, language: str) -> LanguageMap:
    """Return a one-language map."""
    return LanguageMap({language: text})


def activity(iri: str, type_iri: str, name: str, language: str, **definition: Any) -> Activity:
    """Return an activity with a type, a name and any further definition fields."""
    named = {"name": lang(name, language)} if name else {}
    return Activity(id=iri, definition=ActivityDefinition(type=type_iri, **named, **definition))


def module_activity(ctx: StatementContext, *, describe: bool = False) -> Activity:
    """Return the module as an activity; ``describe`` adds its objectives and minutes to the definition."""
    ext: dict[str, Any] = {}
    if describe and ctx.module.objectives:
        ext[vocab.EXT_MODULE_OBJECTIVES] = list(ctx.module.objectives)
    if describe and ctx.module.minutes is not None:
        ext[vocab.EXT_MODULE_MINUTES] = ctx.module.minutes
    more = {"extensions": Extensions(ext)} if ext else {}
    return activity(vocab.module_iri(ctx.base_url, ctx.module.slug), vocab.MODULE, ctx.module.title, ctx.language,
                    **more)


def requirements_extension(ctx: StatementContext) -> dict[str, Any]:
    """Return the ``course-requirements`` context extension, or nothing when the requirements are unknown."""
    if ctx.requirements is None:
        return {}
    return {vocab.EXT_REQUIREMENTS: [r.as_json() for r in sorted(ctx.requirements, key=lambda r: r.module)]}


def _actor(learner: Learner) -> Agent:
    account = AgentAccount(home_page=learner.issuer, name=learner.sub)
    if learner.identify_by_name and learner.name:
        return Agent(account=account, name=learner.name)
    return Agent(account=account)


def _grouping(ctx: StatementContext) -> list[Activity]:
    found = [activity(vocab.curriculum_iri(ctx.base_url, ctx.module.curriculum_id), vocab.CURRICULUM,
                      ctx.module.curriculum_title, ctx.language)]
    if ctx.course is not None:
        iri = vocab.course_iri(ctx.base_url, ctx.learner.issuer, ctx.deployment_id, ctx.course.context_id)
        found.append(activity(iri, vocab.COURSE, ctx.course.title, ctx.language))
    return found


def _context(ctx: StatementContext, in_module: bool, grouping: Sequence[Activity],
             extensions: Mapping[str, Any]) -> Context:
    ext: dict[str, Any] = {
        vocab.EXT_SESSION: ctx.session_id,
        vocab.EXT_CONTENT_VERSION: ctx.module.version,
        vocab.EXT_LTI_DEPLOYMENT: ctx.deployment_id,
    }
    if ctx.course is not None:
        ext[vocab.EXT_LTI_CONTEXT] = ctx.course.context_id
    if ctx.learner.identify_by_name and ctx.learner.email:
        ext[vocab.EXT_LEARNER_EMAIL] = ctx.learner.email
    if ctx.learner.identify_by_name and ctx.learner.agency_id:
        ext[vocab.EXT_AGENCY_ID] = ctx.learner.agency_id
    ext.update(extensions)
    activities = ContextActivities(
        grouping=ActivityList([*_grouping(ctx), *grouping]),
        category=ActivityList([Activity(id=vocab.PROFILE_VERSION,
                                        definition=ActivityDefinition(type=vocab.PROFILE_TYPE))]),
    )
    if in_module:
        activities.parent = ActivityList([module_activity(ctx)])
    return Context(registration=ctx.registration, platform=vocab.PLATFORM, language=ctx.language,
                   context_activities=activities, extensions=Extensions(ext))


def build(ctx: StatementContext, verb: str, obj: Activity, at: datetime, *, result: Result | None = None,
          in_module: bool = False, grouping: Sequence[Activity] = (),
          extensions: Mapping[str, Any] | None = None, statement_id: str | None = None) -> dict[str, Any]:
    """Assemble one statement and return it as a JSON-ready dict without ``version``.

    ``in_module`` puts the module in ``contextActivities.parent`` (statements about a decision,
    a stage or a policy read within the module); ``grouping`` adds to the curriculum and course.
    """
    statement = Statement(
        id=statement_id or str(uuid.uuid4()),
        actor=_actor(ctx.learner),
        verb=Verb(id=verb, display=lang(vocab.VERB_DISPLAY[verb], "en-US")),
        object=obj,
        result=result,
        context=_context(ctx, in_module, grouping, extensions or {}),
    )
    body: dict[str, Any] = statement.as_version(XAPI_VERSION)
    body.pop("version", None)
    body["timestamp"] = utc_timestamp(at)
    return body
