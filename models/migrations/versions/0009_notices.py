"""notices: outage notices callers hear before the menu, and their SMS subscriptions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:40:00
"""
from alembic import op
import sqlalchemy as sa

from models.base import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('where', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('until', UTCDateTime(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    op.create_table('notice_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('sms_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_subscriptions_notice_id_notices')),
    sa.ForeignKeyConstraint(['sms_id'], ['sms_messages.id'], name=op.f('fk_notice_subscriptions_sms_id_sms_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_subscriptions')),
    sa.UniqueConstraint('notice_id', 'phone', name='uq_notice_subscriptions_phone')
    )
    op.create_index(op.f('ix_notice_subscriptions_notice_id'), 'notice_subscriptions', ['notice_id'], unique=False)
    op.add_column('calls', sa.Column('notice_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_calls_notice_id'), 'calls', ['notice_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_calls_notice_id'), table_name='calls')
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('notice_id')
    op.drop_index(op.f('ix_notice_subscriptions_notice_id'), table_name='notice_subscriptions')
    op.drop_table('notice_subscriptions')
    op.drop_table('notices')
