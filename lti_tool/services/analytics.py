"""Where officers struggle: success per intervention stage, tactic and target rank, and choice distributions.

Everything is aggregated in SQL (GROUP BY over ``decision`` and ``stage_result`` joined to the course's
learner memberships), so a 10,000-officer course returns a few dozen rows, never the decisions themselves.
Content is read only to name things (stage names, decision titles and the text of each choice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from lti_tool.content import Content, DecisionScreen, get_content
from lti_tool.lti.roles import Role
from lti_tool.models import Attempt, DecisionRecord, Membership, ModuleRegistration, StageResult
from lti_tool.player_view import STAGE_NAMES
from xapi import vocab

RANK_NAMES = {"peer": "Peer", "superior": "Superior"}
Ts = TypeVarTuple("Ts")
TACTIC_NAMES = {"distract": "Distract", "direct": "Direct", "delegate": "Delegate"}


@dataclass(frozen=True)
class Success:
    """How a group of answers went: how many, how many were the best choice, and the points earned."""

    key: str
    label: str
    answers: int
    best: int
    points: int
    max_points: int
    mastered: int | None = None
    finished: int | None = None

    @property
    def best_percent(self) -> float | None:
        return round(100.0 * self.best / self.answers, 1) if self.answers else None

    @property
    def points_percent(self) -> float | None:
        return round(100.0 * self.points / self.max_points, 1) if self.max_points else None

    @property
    def mastered_percent(self) -> float | None:
        return round(100.0 * (self.mastered or 0) / self.finished, 1) if self.finished else None


@dataclass(frozen=True)
class ChoiceShare:
    """One choice of a decision: its text, how many learners picked it, whether it is the best one."""

    choice: str
    text: str
    count: int
    percent: float | None
    best: bool


@dataclass(frozen=True)
class DecisionDistribution:
    """The choices made on one decision screen of a module."""

    module: str
    module_title: str
    screen: str
    title: str
    prompt: str
    stage: int
    tactic: str | None
    rank: str | None
    answers: int
    choices: tuple[ChoiceShare, ...]


@dataclass(frozen=True)
class Struggles:
    """The "where officers struggle" figures for one course (and optionally one module)."""

    module: str | None
    by_stage: tuple[Success, ...]
    by_tactic: tuple[Success, ...]
    by_rank: tuple[Success, ...]
    decisions: tuple[DecisionDistribution, ...]


def _scoped(stmt: Select[*Ts], context_pk: int, module: str | None) -> Select[*Ts]:
    """Restrict a query over decisions or stage results to the course's learners (and one module)."""
    stmt = (stmt.join(ModuleRegistration, ModuleRegistration.id == Attempt.registration_pk)
            .join(Membership, and_(Membership.user_pk == ModuleRegistration.user_pk,
                                   Membership.context_pk == context_pk))
            .where(Membership.role == Role.LEARNER.value))
    return stmt.where(ModuleRegistration.module == module) if module else stmt


def _success_rows(session: Session, column: Any, context_pk: int, module: str | None) -> dict[Any, tuple[int, ...]]:
    best = func.sum(case((DecisionRecord.points >= DecisionRecord.max_points, 1), else_=0))
    stmt = (select(column, func.count(), best, func.sum(DecisionRecord.points), func.sum(DecisionRecord.max_points))
            .select_from(DecisionRecord).join(Attempt, Attempt.id == DecisionRecord.attempt_pk))
    stmt = _scoped(stmt, context_pk, module).where(column.is_not(None)).group_by(column)
    return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in session.execute(stmt)}


def _mastery_rows(session: Session, content: Content, context_pk: int,
                  module: str | None) -> dict[int, tuple[int, int]]:
    # A stage is mastered when its scaled score reaches the module's mastery mark (per module, from content).
    marks = {slug: m.mastery for slug, m in content.modules.items()}
    mark = case(marks, value=ModuleRegistration.module, else_=0.8) if marks else 0.8
    mastered = func.sum(case((StageResult.scaled >= mark, 1), else_=0))
    stmt = (select(StageResult.stage, func.count(), mastered).select_from(StageResult)
            .join(Attempt, Attempt.id == StageResult.attempt_pk))
    stmt = _scoped(stmt, context_pk, module).group_by(StageResult.stage)
    return {int(row[0]): (int(row[1]), int(row[2] or 0)) for row in session.execute(stmt)}


def _success(key: Any, label: str, row: tuple[int, ...] | None, mastery: tuple[int, int] | None = None) -> Success:
    answers, best, points, maximum = row or (0, 0, 0, 0)
    finished, mastered = mastery or (None, None)
    return Success(str(key), label, answers, best, points, maximum, mastered, finished)


def _decision_rows(session: Session, context_pk: int, module: str | None) -> list[tuple[str, str, str, int]]:
    reg = ModuleRegistration
    stmt = (select(reg.module, DecisionRecord.screen, DecisionRecord.choice, func.count())
            .select_from(DecisionRecord).join(Attempt, Attempt.id == DecisionRecord.attempt_pk))
    stmt = _scoped(stmt, context_pk, module).group_by(reg.module, DecisionRecord.screen, DecisionRecord.choice)
    return [(str(row[0]), str(row[1]), str(row[2]), int(row[3])) for row in session.execute(stmt)]


def _distribution(content: Content, slug: str, screen_id: str, counts: dict[str, int]) -> DecisionDistribution:
    module = content.modules.get(slug)
    try:
        screen = module.screen(screen_id) if module else None
    except KeyError:
        screen = None
    total = sum(counts.values())
    if not isinstance(screen, DecisionScreen):
        # A screen of an older content version or of a module no longer served: show what was recorded.
        shares = tuple(ChoiceShare(c, c, n, _pct(n, total), False) for c, n in sorted(counts.items()))
        return DecisionDistribution(slug, module.title if module else slug, screen_id, screen_id, "", 0, None,
                                    None, total, shares)
    top = max(c.points for c in screen.choices)
    known = [ChoiceShare(c.id, c.text, counts.get(c.id, 0), _pct(counts.get(c.id, 0), total), c.points == top)
             for c in screen.choices]
    others = [ChoiceShare(c, c, n, _pct(n, total), False) for c, n in sorted(counts.items())
              if c not in {k.choice for k in known}]
    return DecisionDistribution(slug, module.title if module else slug, screen.id, screen.title, screen.prompt,
                                screen.stage, screen.tactic, screen.rank, total, (*known, *others))


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _order(content: Content, slug: str, screen_id: str) -> tuple[int, int]:
    slugs = list(content.modules)
    module = content.modules.get(slug)
    screens = [s.id for s in module.screens] if module else []
    return (slugs.index(slug) if slug in slugs else len(slugs),
            screens.index(screen_id) if screen_id in screens else len(screens))


def decisions(session: Session, context_pk: int, module: str | None = None) -> tuple[DecisionDistribution, ...]:
    """Return the distribution of choices on every decision answered in the course, in content order."""
    content = get_content()
    grouped: dict[tuple[str, str], dict[str, int]] = {}
    for slug, screen, choice, count in _decision_rows(session, context_pk, module):
        grouped.setdefault((slug, screen), {})[choice] = count
    keys = sorted(grouped, key=lambda k: _order(content, *k))
    return tuple(_distribution(content, slug, screen, grouped[(slug, screen)]) for slug, screen in keys)


def struggles(session: Session, context_pk: int, module: str | None = None) -> Struggles:
    """Return success per stage, tactic and rank and the choice distributions for a course's learners."""
    content = get_content()
    stages = _success_rows(session, DecisionRecord.stage, context_pk, module)
    mastery = _mastery_rows(session, content, context_pk, module)
    tactics = _success_rows(session, DecisionRecord.tactic, context_pk, module)
    ranks = _success_rows(session, DecisionRecord.rank, context_pk, module)
    return Struggles(
        module=module,
        by_stage=tuple(_success(s, f"{s}. {STAGE_NAMES[s]}", stages.get(s), mastery.get(s)) for s in vocab.STAGES),
        by_tactic=tuple(_success(t, TACTIC_NAMES[t], tactics.get(t)) for t in vocab.TACTICS),
        by_rank=tuple(_success(r, RANK_NAMES[r], ranks.get(r)) for r in vocab.RANKS),
        decisions=decisions(session, context_pk, module),
    )


def module_choices(module: str | None, available: Sequence[str]) -> str | None:
    """Return the module filter if it names a served module, else None (every module)."""
    return module if module and module in available else None
