"""built-in LRS documents (State, Activity Profile, Agent Profile)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 20:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import xapi.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('xapi_lrs_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('scope_key', sa.String(length=64), nullable=False),
    sa.Column('doc_key', sa.String(length=64), nullable=False),
    sa.Column('doc_id', sa.Text(), nullable=False),
    sa.Column('activity_id', sa.Text(), nullable=True),
    sa.Column('agent', sa.Text(), nullable=True),
    sa.Column('registration', sa.String(length=36), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('etag', sa.String(length=40), nullable=False),
    sa.Column('updated', xapi.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_xapi_lrs_document')),
    sa.UniqueConstraint('scope_key', 'doc_key', name=op.f('uq_xapi_lrs_document_scope_key_doc_key'))
    )
    with op.batch_alter_table('xapi_lrs_document', schema=None) as batch_op:
        batch_op.create_index('ix_xapi_lrs_document_scope_updated', ['scope_key', 'updated'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('xapi_lrs_document', schema=None) as batch_op:
        batch_op.drop_index('ix_xapi_lrs_document_scope_updated')
    op.drop_table('xapi_lrs_document')
