"""call queue: a caller waits in line when every staff member is busy

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 05:30:00

Queue state on `calls`, so every process sees the same line. Existing calls never
queued: their columns stay empty and their priority is 0.
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('queue_since', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('queue_priority', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('queue_wait_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('queue_exit', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('queue_leg_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_calls_queue_since', ['queue_since', 'queue_priority', 'queued_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_queue_since')
        batch_op.drop_column('queue_leg_id')
        batch_op.drop_column('queue_exit')
        batch_op.drop_column('queue_wait_seconds')
        batch_op.drop_column('queue_priority')
        batch_op.drop_column('queue_since')
        batch_op.drop_column('queued_at')
