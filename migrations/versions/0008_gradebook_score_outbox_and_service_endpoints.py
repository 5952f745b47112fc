"""gradebook score outbox and LTI service endpoints

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 20:28:42.937439
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import xapi.db

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('score_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_pk', sa.Integer(), nullable=False),
    sa.Column('deployment_pk', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), nullable=True),
    sa.Column('resource_link_pk', sa.Integer(), nullable=True),
    sa.Column('module', sa.String(length=128), nullable=False),
    sa.Column('label', sa.String(length=255), nullable=False),
    sa.Column('user_sub', sa.String(length=255), nullable=False),
    sa.Column('lineitem_url', sa.String(length=1024), nullable=True),
    sa.Column('score_given', sa.Float(), nullable=False),
    sa.Column('score_maximum', sa.Float(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('timestamp', xapi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', xapi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', xapi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', xapi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('claimed_until', xapi.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['attempt_pk'], ['attempt.id'], name=op.f('fk_score_outbox_attempt_pk_attempt'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_score_outbox_context_pk_lti_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['deployment_pk'], ['deployment.id'], name=op.f('fk_score_outbox_deployment_pk_deployment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_link_pk'], ['resource_link.id'], name=op.f('fk_score_outbox_resource_link_pk_resource_link'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_outbox')),
    sa.UniqueConstraint('attempt_pk', name=op.f('uq_score_outbox_attempt_pk'))
    )
    with op.batch_alter_table('score_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_score_outbox_context_pk'), ['context_pk'], unique=False)
        batch_op.create_index('ix_score_outbox_due', ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('lti_context', schema=None) as batch_op:
        batch_op.add_column(sa.Column('memberships_url', sa.String(length=1024), nullable=True))

    with op.batch_alter_table('resource_link', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lineitems_url', sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column('ags_scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('lineitem_url', sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('resource_link', schema=None) as batch_op:
        batch_op.drop_column('lineitem_url')
        batch_op.drop_column('ags_scopes')
        batch_op.drop_column('lineitems_url')

    with op.batch_alter_table('lti_context', schema=None) as batch_op:
        batch_op.drop_column('memberships_url')

    with op.batch_alter_table('score_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_score_outbox_due')
        batch_op.drop_index(batch_op.f('ix_score_outbox_context_pk'))

    op.drop_table('score_outbox')
