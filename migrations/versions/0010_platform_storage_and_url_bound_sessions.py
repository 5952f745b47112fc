"""LTI Platform Storage: login parameters and storage target on login states; URL-bound tool sessions

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite supports it): no batch copy of the tables.
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
    op.add_column('login_state', sa.Column('login_params', json, nullable=True))
    op.add_column('login_state', sa.Column('storage_target', sa.String(length=255), nullable=True))
    op.add_column('login_state', sa.Column('storage_secret_hash', sa.String(length=64), nullable=True))
    op.add_column('tool_session', sa.Column('url_bound', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    # DROP COLUMN (SQLite >= 3.35).
    op.drop_column('tool_session', 'url_bound')
    op.drop_column('login_state', 'storage_secret_hash')
    op.drop_column('login_state', 'storage_target')
    op.drop_column('login_state', 'login_params')
