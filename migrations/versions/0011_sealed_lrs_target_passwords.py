"""agency LRS target passwords sealed (AES-GCM under a key derived from the secret key)

Rows stored before this keep their password in clear, marked unsealed, until
`upstander lrs-target seal` (or setting the target again) seals them: a migration has no secret key.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 23:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('xapi_lrs_target') as batch_op:
        batch_op.add_column(sa.Column('password_sealed', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    # Sealed passwords cannot be opened by the older code: they must be set again after a downgrade.
    with op.batch_alter_table('xapi_lrs_target') as batch_op:
        batch_op.drop_column('password_sealed')
