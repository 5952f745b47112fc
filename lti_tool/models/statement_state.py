"""What the statement service remembers per learner per module, to emit session verbs exactly once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base
from lti_tool.models.launch import Launch
from lti_tool.models.player import ModuleRegistration


class StatementState(Base):
    """The xAPI session a learner's registration in a module is in, and whether it is still open.

    ``open`` is True from initialized/resumed until a closing verb (terminated, suspended or
    abandoned) was queued for ``session_id``; closing flips it in the same transaction, so a
    closing verb is never queued twice for one session.
    """

    __tablename__ = "statement_state"

    registration_pk: Mapped[int] = mapped_column(
        ForeignKey("module_registration.id", ondelete="CASCADE"), primary_key=True
    )
    # The xAPI session id (cmi5 extension) that last launched this module, and that last played it.
    launched_session: Mapped[str | None] = mapped_column(String(36), default=None)
    session_id: Mapped[str | None] = mapped_column(String(36), default=None)
    # The launch that opened ``session_id``: its user, course and deployment make the statements' context.
    launch_pk: Mapped[int | None] = mapped_column(ForeignKey("launch.id", ondelete="SET NULL"), default=None)
    attempt_number: Mapped[int | None] = mapped_column(default=None)
    open: Mapped[bool] = mapped_column(default=False, index=True)
    # The attempt's seconds on task when this session joined it: the session's duration is the rest.
    seconds_at_start: Mapped[int] = mapped_column(default=0)
    closed_with: Mapped[str | None] = mapped_column(String(16), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)

    registration: Mapped[ModuleRegistration] = relationship()
    launch: Mapped[Launch | None] = relationship()
