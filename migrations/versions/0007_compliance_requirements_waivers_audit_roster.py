"""compliance: module requirements, waivers, audit trail, roster syncs and roster state on memberships

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:29:16.693524
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xapi.db

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deployment_pk', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), nullable=True),
    sa.Column('actor_pk', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', xapi.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_pk'], ['lti_user.id'], name=op.f('fk_audit_event_actor_pk_lti_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_audit_event_context_pk_lti_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['deployment_pk'], ['deployment.id'], name=op.f('fk_audit_event_deployment_pk_deployment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_context_pk'), ['context_pk'], unique=False)
        batch_op.create_index('ix_audit_event_deployment_created', ['deployment_pk', 'created_at'], unique=False)

    op.create_table('module_requirement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('module', sa.String(length=128), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('recert_months', sa.Integer(), nullable=False),
    sa.Column('credit_minutes', sa.Integer(), nullable=True),
    sa.Column('updated_at', xapi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_pk', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_module_requirement_context_pk_lti_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_pk'], ['lti_user.id'], name=op.f('fk_module_requirement_updated_by_pk_lti_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_module_requirement')),
    sa.UniqueConstraint('context_pk', 'module', name=op.f('uq_module_requirement_context_pk_module'))
    )
    op.create_table('roster_sync',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('attempted_at', xapi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('synced_at', xapi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.Column('joined', sa.Integer(), nullable=False),
    sa.Column('left', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_roster_sync_context_pk_lti_context'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', name=op.f('pk_roster_sync'))
    )
    op.create_table('waiver',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('module', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_pk', sa.Integer(), nullable=True),
    sa.Column('created_at', xapi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('statement_id', sa.String(length=36), nullable=True),
    sa.Column('revoked_at', xapi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_pk', sa.Integer(), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.Column('void_statement_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_waiver_context_pk_lti_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_pk'], ['lti_user.id'], name=op.f('fk_waiver_created_by_pk_lti_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['revoked_by_pk'], ['lti_user.id'], name=op.f('fk_waiver_revoked_by_pk_lti_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_pk'], ['lti_user.id'], name=op.f('fk_waiver_user_pk_lti_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waiver'))
    )
    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.create_index('ix_waiver_context_module_user', ['context_pk', 'module', 'user_pk'], unique=False)

    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='launch', nullable=False))
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('left_at', xapi.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('synced_at', xapi.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('agency_id', sa.String(length=255), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_column('agency_id')
        batch_op.drop_column('synced_at')
        batch_op.drop_column('left_at')
        batch_op.drop_column('active')
        batch_op.drop_column('source')

    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.drop_index('ix_waiver_context_module_user')

    op.drop_table('waiver')
    op.drop_table('roster_sync')
    op.drop_table('module_requirement')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_deployment_created')
        batch_op.drop_index(batch_op.f('ix_audit_event_context_pk'))

    op.drop_table('audit_event')
