"""heartbeats of the hub's components; index for the dashboard's per-minute rates

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 09:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import store.base


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'heartbeat',
        sa.Column('component', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('detail', sa.String(length=200), nullable=False),
        sa.Column('beat_at', store.base.UTCDateTime(), nullable=False),
        sa.Column('every_seconds', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('component', name=op.f('pk_heartbeat')),
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_at_action', ['at', 'action'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_at_action')
    op.drop_table('heartbeat')
