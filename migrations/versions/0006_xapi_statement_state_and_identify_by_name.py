"""xapi statement state and identify learners by name

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 21:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import xapi.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('statement_state',
    sa.Column('registration_pk', sa.Integer(), nullable=False),
    sa.Column('launched_session', sa.String(length=36), nullable=True),
    sa.Column('session_id', sa.String(length=36), nullable=True),
    sa.Column('launch_pk', sa.Integer(), nullable=True),
    sa.Column('attempt_number', sa.Integer(), nullable=True),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.Column('seconds_at_start', sa.Integer(), nullable=False),
    sa.Column('closed_with', sa.String(length=16), nullable=True),
    sa.Column('closed_at', xapi.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['registration_pk'], ['module_registration.id'], name=op.f('fk_statement_state_registration_pk_module_registration'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['launch_pk'], ['launch.id'], name=op.f('fk_statement_state_launch_pk_launch'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('registration_pk', name=op.f('pk_statement_state'))
    )
    with op.batch_alter_table('statement_state', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_state_open'), ['open'], unique=False)

    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identify_learners_by_name', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.drop_column('identify_learners_by_name')

    with op.batch_alter_table('statement_state', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statement_state_open'))

    op.drop_table('statement_state')
