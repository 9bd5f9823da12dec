"""heartbeats per serving process: the key becomes (component, process)

Heartbeats are transient (rewritten every few seconds by the running processes), so the table is
recreated rather than converted: the first beats after the upgrade fill it again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 13:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import store.base


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _heartbeat(*key: str) -> None:
    columns = [
        sa.Column('component', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('detail', sa.String(length=200), nullable=False),
        sa.Column('beat_at', store.base.UTCDateTime(), nullable=False),
        sa.Column('every_seconds', sa.Float(), nullable=False),
    ]
    if 'process' in key:
        columns.insert(1, sa.Column('process', sa.String(length=80), nullable=False))
    op.create_table('heartbeat', *columns, sa.PrimaryKeyConstraint(*key, name=op.f('pk_heartbeat')))


def upgrade() -> None:
    op.drop_table('heartbeat')
    _heartbeat('component', 'process')


def downgrade() -> None:
    op.drop_table('heartbeat')
    _heartbeat('component')
