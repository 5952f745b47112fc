"""One builder per event of a module attempt, following cmi5's statement rules (GUIDE §5).

Score only on passed/failed (and on a stage's own ``scored`` result, which is about the stage, not
the module), completion only on completed, a duration on the closing verbs, ids UUID4, timestamps
the moment of the event in UTC. Each builder returns a JSON-ready dict; see ``xapi.builders``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tincan import Activity, Extensions, InteractionComponent, InteractionComponentList, Result, Score

from xapi import vocab
from xapi.builders import StatementContext, activity, build, lang, module_activity, requirements_extension

Statement = dict[str, Any]


@dataclass(frozen=True)
class DecisionChoice:
    """One answer offered on a decision screen."""

    id: str
    text: str
    best: bool = False


@dataclass(frozen=True)
class Decision:
    """A decision screen as the learner saw it, and the choice they made."""

    screen: str
    title: str
    prompt: str
    stage: int
    choices: tuple[DecisionChoice, ...]
    chosen: str
    tactic: str | None = None
    rank: str | None = None
    scenario: str | None = None


def _duration(seconds: float) -> timedelta:
    return timedelta(seconds=max(0, int(seconds)))


def _module_verb(verb: str, ctx: StatementContext, at: datetime, statement_id: str | None,
                 result: Result | None = None, extensions: dict[str, Any] | None = None,
                 describe: bool = False) -> Statement:
    # Milestones (launched, initialized, completed, passed/failed) describe the module fully and carry the
    # course's requirements, so an accreditation report can be built from an LRS alone; the frequent
    # statements (progressed, closing verbs) stay small.
    if describe:
        extensions = {**requirements_extension(ctx), **(extensions or {})}
    return build(ctx, verb, module_activity(ctx, describe=describe), at, result=result, extensions=extensions,
                 statement_id=statement_id)


def launched(ctx: StatementContext, at: datetime, *, statement_id: str | None = None) -> Statement:
    """The LMS launched the module for the learner (an LTI launch that names it)."""
    return _module_verb(vocab.LAUNCHED, ctx, at, statement_id, describe=True)


def initialized(ctx: StatementContext, at: datetime, attempt: int, *, statement_id: str | None = None) -> Statement:
    """The learner began a new attempt at the module."""
    return _module_verb(vocab.INITIALIZED, ctx, at, statement_id, extensions={vocab.EXT_ATTEMPT: attempt},
                        describe=True)


def resumed(ctx: StatementContext, at: datetime, attempt: int, *, statement_id: str | None = None) -> Statement:
    """The learner came back, in a new session, to an attempt in progress."""
    return _module_verb(vocab.RESUMED, ctx, at, statement_id, extensions={vocab.EXT_ATTEMPT: attempt})


def _attempt(attempt: int | None) -> dict[str, Any]:
    # Optional on answers and results (added later): reports then need not infer the attempt from the order.
    return {} if attempt is None else {vocab.EXT_ATTEMPT: attempt}


def answered(ctx: StatementContext, at: datetime, decision: Decision, *,
             statement_id: str | None = None, attempt: int | None = None) -> Statement:
    """The learner answered a decision: a ``choice`` interaction, with success where a best answer exists."""
    best = [c.id for c in decision.choices if c.best]
    definition: dict[str, Any] = {
        "description": lang(decision.prompt, ctx.language),
        "interaction_type": "choice",
        "choices": InteractionComponentList([
            InteractionComponent(id=c.id, description=lang(c.text, ctx.language)) for c in decision.choices
        ]),
    }
    if best:
        definition["correct_responses_pattern"] = best
    obj = activity(vocab.decision_iri(ctx.base_url, ctx.module.slug, decision.screen), vocab.DECISION,
                   decision.title, ctx.language, **definition)
    result = Result(response=decision.chosen, success=(decision.chosen in best) if best else None)
    ext: dict[str, Any] = {vocab.EXT_STAGE: decision.stage, **_attempt(attempt)}
    if decision.tactic:
        ext[vocab.EXT_TACTIC] = decision.tactic
    if decision.rank:
        ext[vocab.EXT_RANK] = decision.rank
    grouping: list[Activity] = []
    if decision.scenario:
        grouping.append(activity(vocab.scenario_iri(ctx.base_url, ctx.module.slug, decision.scenario),
                                 vocab.SCENARIO, "", ctx.language))
    return build(ctx, vocab.ANSWERED, obj, at, result=result, in_module=True, grouping=grouping,
                 extensions=ext, statement_id=statement_id)


def stage_result(ctx: StatementContext, at: datetime, stage: int, name: str, scaled: float, mastered: bool, *,
                 statement_id: str | None = None) -> Statement:
    """The learner's score in one intervention stage reached in a finished attempt."""
    obj = activity(vocab.stage_iri(ctx.base_url, ctx.module.slug, stage), vocab.STAGE, name, ctx.language)
    result = Result(score=Score(scaled=round(scaled, 4)), success=mastered)
    return build(ctx, vocab.SCORED, obj, at, result=result, in_module=True,
                 extensions={vocab.EXT_STAGE: stage}, statement_id=statement_id)


def progressed(ctx: StatementContext, at: datetime, percent: int, *, statement_id: str | None = None) -> Statement:
    """The learner moved on in the module; ``percent`` is how far (cmi5's progress extension)."""
    result = Result(extensions=Extensions({vocab.EXT_PROGRESS: max(0, min(100, percent))}))
    return _module_verb(vocab.PROGRESSED, ctx, at, statement_id, result)


def completed(ctx: StatementContext, at: datetime, seconds: float, *, statement_id: str | None = None,
              attempt: int | None = None) -> Statement:
    """The learner reached an ending of the module; ``seconds`` on task in the attempt."""
    return _module_verb(vocab.COMPLETED, ctx, at, statement_id, Result(completion=True, duration=_duration(seconds)),
                        _attempt(attempt), describe=True)


def judged(ctx: StatementContext, at: datetime, scaled: float, passed: bool, seconds: float, *,
           statement_id: str | None = None, attempt: int | None = None) -> Statement:
    """The module's verdict: passed or failed, with the scaled score and the attempt's time on task."""
    result = Result(score=Score(scaled=round(scaled, 4)), success=passed, duration=_duration(seconds))
    return _module_verb(vocab.PASSED if passed else vocab.FAILED, ctx, at, statement_id, result, _attempt(attempt),
                        describe=True)


def _closing(verb: str, ctx: StatementContext, at: datetime, seconds: float, statement_id: str | None) -> Statement:
    return _module_verb(verb, ctx, at, statement_id, Result(duration=_duration(seconds)))


def terminated(ctx: StatementContext, at: datetime, seconds: float, *, statement_id: str | None = None) -> Statement:
    """The session ended normally (the attempt finished); ``seconds`` spent in this session."""
    return _closing(vocab.TERMINATED, ctx, at, seconds, statement_id)


def suspended(ctx: StatementContext, at: datetime, seconds: float, *, statement_id: str | None = None) -> Statement:
    """The learner left an attempt in progress (found when they come back in a new session)."""
    return _closing(vocab.SUSPENDED, ctx, at, seconds, statement_id)


def abandoned(ctx: StatementContext, at: datetime, seconds: float, *, statement_id: str | None = None) -> Statement:
    """The session timed out with the attempt in progress and nothing closing it."""
    return _closing(vocab.ABANDONED, ctx, at, seconds, statement_id)


def acknowledged(ctx: StatementContext, at: datetime, version: int, title: str, *,
                 statement_id: str | None = None) -> Statement:
    """The learner confirmed reading a version of the agency's Duty to Intervene policy."""
    iri = vocab.policy_iri(ctx.base_url, ctx.learner.issuer, ctx.deployment_id, version)
    obj = activity(iri, vocab.POLICY, title, ctx.language)
    return build(ctx, vocab.ACKNOWLEDGED, obj, at, in_module=True,
                 extensions={vocab.EXT_POLICY_VERSION: version}, statement_id=statement_id)
