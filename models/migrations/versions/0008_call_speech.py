"""call speech: what the caller said at the menu, Twilio's confidence, what it meant

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02 05:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('speech_text', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('speech_confidence', sa.Float(), nullable=True))
        batch.add_column(sa.Column('speech_choice', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('speech_choice')
        batch.drop_column('speech_confidence')
        batch.drop_column('speech_text')
