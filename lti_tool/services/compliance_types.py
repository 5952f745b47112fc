"""The value types of the compliance status service (see ``lti_tool.services.compliance``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, TypeVar

from lti_tool.services.compliance_rules import LABELS

T = TypeVar("T")


@dataclass(frozen=True)
class Requirement:
    """What the course asks for one module (defaults when the coordinator has set nothing)."""

    module: str
    title: str
    required: bool
    due_date: date | None
    recert_months: int
    credit_minutes: int  # the coordinator's figure, else the module's estimated minutes
    module_minutes: int
    configured: bool  # False: nothing stored, these are the defaults


@dataclass(frozen=True)
class ModuleStatus:
    """One officer's standing in one module."""

    module: str
    status: str  # one of STATUSES
    required: bool
    attempts: int
    started_at: datetime | None  # first attempt
    last_activity_at: datetime | None
    completed_at: datetime | None  # latest finished attempt (any verdict)
    passed_at: datetime | None  # latest pass
    best_score: float | None  # 0..1
    seconds_on_task: int  # over every attempt
    due_date: date | None
    recert_due: date | None  # when the latest pass (or completion) expires; None if none or never expires
    waiver_id: int | None

    @property
    def label(self) -> str:
        return LABELS[self.status]

    @property
    def minutes(self) -> int:
        return round(self.seconds_on_task / 60)


@dataclass(frozen=True)
class OfficerRow:
    """An officer of the course and their status in every catalogue module."""

    user_pk: int
    name: str
    sub: str
    email: str
    agency_id: str | None
    source: str  # "launch" or "nrps"
    active: bool
    left_at: datetime | None
    overall: str
    modules: dict[str, ModuleStatus]

    @property
    def overall_label(self) -> str:
        return LABELS[self.overall]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and how many there are in all."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class Summary:
    """A course at a glance: officers, and how many are in each status, per module and overall."""

    officers: int  # current members
    left: int  # members who left (not counted below)
    by_module: dict[str, dict[str, int]]  # module -> status -> officers
    overall: dict[str, int]  # status -> officers
    requirements: list[Requirement]
