"""delivery deadlines

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 07:47:32.546775
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import store.base


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', store.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('on_time', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', store.base.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_outbound_mail_due', ['state', 'due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_mail_due')
        batch_op.drop_column('acknowledged_at')
        batch_op.drop_column('on_time')
        batch_op.drop_column('due_at')

