"""A course's first launches arrive together (roll call), on several instances: none may fail."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lti_tool.db import sessionmaker_for
from lti_tool.lti import claims as c
from lti_tool.models import Deployment, LtiContext, LtiUser, Membership, ModuleRegistration, ResourceLink
from lti_tool.services import platforms, player, records
from tests.delivery.conftest import SessionFactory

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def claims(sub: str) -> dict[str, Any]:
    return {"sub": sub, "name": f"Officer {sub}", c.ROLES: [LEARNER],
            c.CONTEXT: {"id": "course-1", "title": "Roll call"}, c.RESOURCE_LINK: {"id": "link-1", "title": "Module"}}


def _register(db: SessionFactory) -> None:
    with db() as session:
        platforms.register(session, platforms.PlatformInput(
            issuer="https://lms.test", client_id="c", auth_login_url="https://lms.test/auth",
            token_url="https://lms.test/token", jwks_url="https://lms.test/jwks", deployment_ids=["d"]))


def test_two_first_launches_of_one_course_at_once_both_succeed(app: Flask, db: SessionFactory,
                                                               database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: SQLite lets one writer at a time in, so the two cannot interleave")
    _register(db)
    maker = sessionmaker_for(app)
    first, second = maker(), maker()
    errors: list[BaseException] = []
    try:
        # The first launch has added the course and link (not committed yet) when the second looks for them.
        records.record_people(first, first.scalars(select(Deployment)).one(), claims("officer-1"))

        def launch_second() -> None:
            try:
                records.record_people(second, second.scalars(select(Deployment)).one(), claims("officer-2"))
                second.commit()
            except BaseException as exc:  # surfaced below
                errors.append(exc)
                second.rollback()

        racer = threading.Thread(target=launch_second)
        racer.start()
        racer.join(1.0)  # blocked on the first launch's uncommitted course row
        first.commit()
        racer.join(30)
    finally:
        first.close()
        second.close()
    assert not errors, errors
    with db() as session:
        counts = [session.scalar(select(func.count()).select_from(model))
                  for model in (LtiContext, ResourceLink, LtiUser, Membership)]
    assert counts == [1, 1, 2, 2]


def test_two_first_starts_of_one_module_at_once_share_one_registration(app: Flask, db: SessionFactory,
                                                                       database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: SQLite lets one writer at a time in, so the two cannot interleave")
    _register(db)
    with db() as session:
        user, _, _ = records.record_people(session, session.scalars(select(Deployment)).one(), claims("officer-1"))
        user_pk = user.id
    maker = sessionmaker_for(app)
    first, second = maker(), maker()
    found: list[str] = []
    errors: list[BaseException] = []
    try:
        # Two tabs: the first has added the registration (not committed yet) when the second looks for it.
        found.append(player.registration(first, first.get_one(LtiUser, user_pk), "three-ds").registration)

        def start_second() -> None:
            try:
                found.append(player.registration(second, second.get_one(LtiUser, user_pk), "three-ds").registration)
                second.commit()
            except BaseException as exc:  # surfaced below
                errors.append(exc)
                second.rollback()

        racer = threading.Thread(target=start_second)
        racer.start()
        racer.join(1.0)  # blocked on the first tab's uncommitted registration
        first.commit()
        racer.join(30)
    finally:
        first.close()
        second.close()
    assert not errors, errors
    assert len(found) == 2 and found[0] == found[1]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(ModuleRegistration)) == 1
