"""The demo course and its fixed roster: enough people to show every role the tool handles."""

from __future__ import annotations

from dataclasses import dataclass

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
LEARNER = LIS + "membership#Learner"
INSTRUCTOR = LIS + "membership#Instructor"
INSTITUTION_ADMIN = LIS + "institution/person#Administrator"
COURSE_OFFERING = LIS + "course#CourseOffering"

COURSE_ID = "demo-course"
COURSE_LABEL = "PBI-2026"
COURSE_TITLE = "Peer Intervention — Annual Refresher"


@dataclass(frozen=True)
class Person:
    """Someone enrolled in the demo course."""

    user_id: str
    given_name: str
    family_name: str
    roles: tuple[str, ...]
    title: str
    # One officer never opens the training, so the tool's reports show someone "not started".
    launches: bool = True

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def email(self) -> str:
        return f"{self.given_name}.{self.family_name}@demo-agency.example".lower()

    @property
    def is_learner(self) -> bool:
        return LEARNER in self.roles

    @property
    def is_coordinator(self) -> bool:
        return INSTRUCTOR in self.roles


ROSTER: tuple[Person, ...] = (
    Person("u-1001", "Maria", "Alvarez", (LEARNER,), "Patrol officer"),
    Person("u-1002", "James", "Okafor", (LEARNER,), "Patrol officer"),
    Person("u-1003", "Priya", "Raman", (LEARNER,), "Sergeant"),
    Person("u-1004", "Daniel", "Kowalski", (LEARNER,), "Detective", launches=False),
    Person("u-2001", "Grace", "Whitfield", (INSTRUCTOR,), "Training coordinator"),
    Person("u-9001", "Sam", "Taylor", (INSTITUTION_ADMIN, INSTRUCTOR), "Platform administrator"),
)


def find(user_id: str) -> Person | None:
    """Return the enrolled person with this id, if any."""
    return next((p for p in ROSTER if p.user_id == user_id), None)


def learners() -> list[Person]:
    """Return the officers, in roster order."""
    return [p for p in ROSTER if p.is_learner]


def coordinator() -> Person:
    """Return the training coordinator (the person who adds modules by deep linking)."""
    return next(p for p in ROSTER if p.is_coordinator and INSTITUTION_ADMIN not in p.roles)
