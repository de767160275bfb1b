"""speed indexes: reminders due by campaign (the dialer), calls in progress (the wallboard)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 08:10:00
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The dialer deals reminders in turn across campaigns: each campaign's due reminders,
    # and whether it has any, are a seek here instead of a scan of every queued reminder.
    op.create_index('ix_outbound_jobs_state_kind_campaign_next', 'outbound_jobs',
                    ['state', 'kind', 'campaign_id', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbound_jobs_state_kind_campaign_next', table_name='outbound_jobs')
