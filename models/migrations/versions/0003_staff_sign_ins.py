"""staff sign-ins: 签入/签出, and one staff member's legs and callbacks by time (who is free)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 05:20:00

No existing row changes meaning: staff on shift who never signed out count as signed
in, so a database without sign-ins rings exactly whom it rang before.
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_sign_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('signed_in', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_sign_ins_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_sign_ins'))
    )
    with op.batch_alter_table('staff_sign_ins', schema=None) as batch_op:
        batch_op.create_index('ix_staff_sign_ins_staff_at', ['staff_id', 'at'], unique=False)
    with op.batch_alter_table('legs', schema=None) as batch_op:
        batch_op.create_index('ix_legs_staff_id_created_at', ['staff_id', 'created_at'], unique=False)
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.create_index('ix_attempts_staff_id_created_at', ['staff_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_attempts_staff_id_created_at')
    with op.batch_alter_table('legs', schema=None) as batch_op:
        batch_op.drop_index('ix_legs_staff_id_created_at')
    with op.batch_alter_table('staff_sign_ins', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_sign_ins_staff_at')
    op.drop_table('staff_sign_ins')
