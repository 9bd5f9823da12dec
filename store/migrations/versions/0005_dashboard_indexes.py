"""dashboard indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 08:08:41.692475
"""
from __future__ import annotations

from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_partner_received', ['partner_id', 'received_at'], unique=False)
        batch_op.create_index('ix_message_urgency', ['urgency'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_urgency')
        batch_op.drop_index('ix_message_partner_received')

