"""tickets keep what the caller wanted; whether they still need a callback is its own column

A message, missed or abandoned call used to be a ticket of category `callback` whatever
the caller chose, so a complaint left as a message was never followed up nor counted as
a complaint. Existing `callback` tickets take their call's menu choice (`fees` is an
enquiry; no choice, `person` or an outbound call stays `callback`), and those still being
worked on still need their callback.

The dialer claims jobs class by class (people before campaigns): an index on
(state, kind, next_attempt_at) finds a callback behind 10,000 queued reminders at once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 05:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The menu choice of the call → what the caller wanted (ivr.tickets.lifecycle.MESSAGE_CATEGORIES).
WANTED = {'repair': 'repair', 'complaint': 'complaint', 'emergency': 'emergency',
          'inquiry': 'inquiry', 'fees': 'inquiry'}
ACTIVE = ('open', 'assigned', 'in_progress', 'reopened')


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('needs_callback', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    tickets = sa.table('tickets', sa.column('id', sa.Integer), sa.column('category', sa.String),
                       sa.column('status', sa.String), sa.column('call_id', sa.Integer),
                       sa.column('needs_callback', sa.Boolean))
    calls = sa.table('calls', sa.column('id', sa.Integer), sa.column('menu_choice', sa.String),
                     sa.column('direction', sa.String))
    op.execute(tickets.update().where(tickets.c.category == 'callback',
                                      tickets.c.status.in_(ACTIVE))
               .values(needs_callback=True))
    for choice, category in WANTED.items():
        chose = (sa.select(calls.c.id).where(calls.c.id == tickets.c.call_id,
                                             calls.c.menu_choice == choice,
                                             calls.c.direction == 'inbound').exists())
        op.execute(tickets.update().where(tickets.c.category == 'callback', chose)
                   .values(category=category))


    with op.batch_alter_table('outbound_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_jobs_state_kind_next',
                              ['state', 'kind', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbound_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_jobs_state_kind_next')
    tickets = sa.table('tickets', sa.column('category', sa.String),
                       sa.column('needs_callback', sa.Boolean))
    op.execute(tickets.update().where(tickets.c.needs_callback == sa.true())
               .values(category='callback'))
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('needs_callback')
