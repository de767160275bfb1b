"""speed indexes: reminders due by campaign (the dialer), a year of statistics

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 08:10:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

QUEUED = sa.text("queued_at IS NOT NULL")


def upgrade() -> None:
    # The dialer deals reminders in turn across campaigns: each campaign's due reminders,
    # and whether it has any, are a seek here instead of a scan of every queued reminder.
    op.create_index('ix_outbound_jobs_state_kind_campaign_next', 'outbound_jobs',
                    ['state', 'kind', 'campaign_id', 'next_attempt_at'], unique=False)
    # /api/stats at a year of calls: the queue's figures read only the calls that waited
    # in line; the speed of answer's calls (queued_at) and the staff's talk time
    # (answered_at, completed_at) stay inside the covering indexes. Indexes only: no
    # table is rebuilt.
    op.create_index('ix_calls_queued', 'calls',
                    ['started_at', 'queue_exit', 'queue_wait_seconds'], unique=False,
                    sqlite_where=QUEUED, postgresql_where=QUEUED)
    op.drop_index('ix_calls_started_at', table_name='calls')
    op.create_index('ix_calls_started_at', 'calls',
                    ['started_at', 'direction', 'outcome', 'menu_choice', 'queued_at'],
                    unique=False)
    op.drop_index('ix_legs_created_at', table_name='legs')
    op.create_index('ix_legs_created_at', 'legs',
                    ['created_at', 'accepted', 'ring_seconds', 'staff_name', 'phone',
                     'answered_at', 'completed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_legs_created_at', table_name='legs')
    op.create_index('ix_legs_created_at', 'legs',
                    ['created_at', 'accepted', 'ring_seconds', 'staff_name', 'phone'],
                    unique=False)
    op.drop_index('ix_calls_started_at', table_name='calls')
    op.create_index('ix_calls_started_at', 'calls',
                    ['started_at', 'direction', 'outcome', 'menu_choice'], unique=False)
    op.drop_index('ix_calls_queued', table_name='calls')
    op.drop_index('ix_outbound_jobs_state_kind_campaign_next', table_name='outbound_jobs')
