"""progress summary on module registrations (attempts, dates, best score, time on task), backfilled

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 22:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import xapi.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The summary of every registration from its attempts, as lti_tool.models.progress computes it (frozen here:
# a migration must not change when the application code does). UPDATE ... FROM: PostgreSQL and SQLite >= 3.33.
BACKFILL = """
UPDATE module_registration SET
    attempt_count = t.attempt_count, first_started_at = t.first_started_at, last_activity_at = t.last_activity_at,
    last_completed_at = t.last_completed_at, last_passed_at = t.last_passed_at, last_done_at = t.last_done_at,
    last_failed_at = t.last_failed_at, in_progress = (t.open = 1), best_score = t.best_score,
    seconds_on_task = t.seconds_on_task
FROM (
    SELECT registration_pk, count(id) AS attempt_count, min(started_at) AS first_started_at,
           max(last_activity_at) AS last_activity_at, max(completed_at) AS last_completed_at,
           max(CASE WHEN passed IS NOT NULL AND passed THEN completed_at END) AS last_passed_at,
           max(CASE WHEN passed IS NULL AND completed_at IS NOT NULL THEN completed_at END) AS last_done_at,
           max(CASE WHEN passed IS NOT NULL AND NOT passed THEN completed_at END) AS last_failed_at,
           max(CASE WHEN completed_at IS NULL THEN 1 ELSE 0 END) AS open, max(score) AS best_score,
           coalesce(sum(seconds_on_task), 0) AS seconds_on_task
    FROM attempt GROUP BY registration_pk
) AS t
WHERE module_registration.id = t.registration_pk
"""


def _columns() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column('attempt_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('first_started_at', xapi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_activity_at', xapi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_completed_at', xapi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_passed_at', xapi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_done_at', xapi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_failed_at', xapi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('in_progress', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('best_score', sa.Float(), nullable=True),
        sa.Column('seconds_on_task', sa.Integer(), server_default='0', nullable=False),
    )


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite supports it), not a batch copy of the table: with foreign keys on, SQLite's
    # copy drops the old module_registration table, and that would cascade-delete every attempt.
    for column in _columns():
        op.add_column('module_registration', column)
    op.execute(BACKFILL)


def downgrade() -> None:
    # DROP COLUMN (SQLite >= 3.35), for the same reason as above.
    for column in reversed(_columns()):
        op.drop_column('module_registration', column.name)
