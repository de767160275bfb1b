"""stats rollups: the additive statistics of each closed local day (issue 20); who is
free reads the day's answered legs from an index; open tickets by owner from an index

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 12:20:00
"""
from alembic import op
import sqlalchemy as sa

from models.base import UTCDateTime

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stats_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts_at', UTCDateTime(), nullable=False),
    sa.Column('ends_at', UTCDateTime(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('filled', sa.Boolean(), nullable=False),
    sa.Column('three_rings_seconds', sa.Integer(), nullable=True),
    sa.Column('inbound_calls', sa.Integer(), nullable=False),
    sa.Column('outbound_calls', sa.Integer(), nullable=False),
    sa.Column('abandoned_calls', sa.Integer(), nullable=False),
    sa.Column('calls_offered_to_person', sa.Integer(), nullable=False),
    sa.Column('calls_answered_by_person', sa.Integer(), nullable=False),
    sa.Column('answered_within_20s', sa.Integer(), nullable=False),
    sa.Column('waits_timed', sa.Integer(), nullable=False),
    sa.Column('wait_seconds', sa.Float(), nullable=False),
    sa.Column('spoke', sa.Integer(), nullable=False),
    sa.Column('understood', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_stats_days'))
    )
    op.create_index(op.f('ix_stats_days_ends_at'), 'stats_days', ['ends_at'], unique=False)
    op.create_table('stats_staff_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('staff_name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('offered', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('within_three_rings', sa.Integer(), nullable=False),
    sa.Column('ring_seconds', sa.Integer(), nullable=False),
    sa.Column('rings_timed', sa.Integer(), nullable=False),
    sa.Column('talk_seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'staff_name', 'phone', name=op.f('pk_stats_staff_days'))
    )
    op.create_table('stats_menu_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('menu_choice', sa.String(length=16), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'menu_choice', name=op.f('pk_stats_menu_days'))
    )
    op.create_table('stats_hour_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('hour', UTCDateTime(), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('offered', sa.Integer(), nullable=False),
    sa.Column('within', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'hour', name=op.f('pk_stats_hour_days'))
    )
    op.create_table('stats_ring_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('ring', sa.Integer(), nullable=False),
    sa.Column('legs', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'ring', name=op.f('pk_stats_ring_days'))
    )
    # Who is free (ivr/calls/presence.py): each person's answered legs of the day and
    # their ends inside the index, not from the table (wider, not one more index).
    op.drop_index('ix_legs_staff_id_created_at', table_name='legs')
    op.create_index('ix_legs_staff_id_created_at', 'legs',
                    ['staff_id', 'created_at', 'accepted', 'completed_at'], unique=False)
    # The dashboard's open and overdue tickets by owner: inside the index, where SQLite
    # chose to scan every ticket ever made (31 ms at a year of calls).
    op.drop_index('ix_tickets_status_due_at', table_name='tickets')
    op.create_index('ix_tickets_status_due_at', 'tickets', ['status', 'due_at', 'owner_staff_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_tickets_status_due_at', table_name='tickets')
    op.create_index('ix_tickets_status_due_at', 'tickets', ['status', 'due_at'], unique=False)
    op.drop_index('ix_legs_staff_id_created_at', table_name='legs')
    op.create_index('ix_legs_staff_id_created_at', 'legs', ['staff_id', 'created_at'],
                    unique=False)
    op.drop_table('stats_ring_days')
    op.drop_table('stats_hour_days')
    op.drop_table('stats_menu_days')
    op.drop_table('stats_staff_days')
    op.drop_index(op.f('ix_stats_days_ends_at'), table_name='stats_days')
    op.drop_table('stats_days')
