"""api token expiry: every API token expires (issue 16, item 10)

Tokens made before this migration never expired; they now expire 90 days after it
runs, so no tool stops at once and none lives for ever.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:30:00
"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa

import models.base


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

EXISTING_TOKEN_DAYS = 90


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', models.base.UTCDateTime(timezone=True),
                                      nullable=True))
    tokens = sa.table('api_tokens', sa.column('expires_at', models.base.UTCDateTime(timezone=True)))
    op.execute(tokens.update().values(
        expires_at=datetime.now(timezone.utc) + timedelta(days=EXISTING_TOKEN_DAYS)))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=models.base.UTCDateTime(timezone=True),
                              nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
