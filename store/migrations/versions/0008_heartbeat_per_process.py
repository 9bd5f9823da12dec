"""heartbeats per serving process: the key becomes (component, process)

Existing rows were written by the only process that beat before this revision, the embedded hub
(`serve --role all`); they are kept, under the process name ``all`` (the embedded hub removes the rows
of earlier processes when it starts, so they go at its next start). Down again, one row per component
is kept: the most recent one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 13:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

LEGACY_PROCESS = 'all'  # who wrote the rows before 0008: the embedded hub


def upgrade() -> None:
    with op.batch_alter_table('heartbeat', schema=None) as batch_op:
        batch_op.add_column(sa.Column('process', sa.String(length=80), nullable=False,
                                      server_default=LEGACY_PROCESS))
    with op.batch_alter_table('heartbeat', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('pk_heartbeat'), type_='primary')
        batch_op.create_primary_key(op.f('pk_heartbeat'), ['component', 'process'])
        batch_op.alter_column('process', existing_type=sa.String(length=80), existing_nullable=False,
                              server_default=None)


def downgrade() -> None:
    # One row per component again: keep each component's latest beat (ties: the greatest process name).
    op.execute(
        "DELETE FROM heartbeat WHERE EXISTS (SELECT 1 FROM heartbeat AS newer"
        " WHERE newer.component = heartbeat.component AND (newer.beat_at > heartbeat.beat_at"
        " OR (newer.beat_at = heartbeat.beat_at AND newer.process > heartbeat.process)))")
    with op.batch_alter_table('heartbeat', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('pk_heartbeat'), type_='primary')
        batch_op.create_primary_key(op.f('pk_heartbeat'), ['component'])
        batch_op.drop_column('process')
