"""pace slots: one request rate per account, shared by every dialer process

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pace_slots',
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('next_slot', sa.Float(), nullable=False),
    sa.Column('hold_until', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_pace_slots'))
    )


def downgrade() -> None:
    op.drop_table('pace_slots')
