"""executed acts: the digest of every member's signed act the hub executed (a statement counts once)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import store.base


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('executed_act',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('act', sa.String(length=48), nullable=False),
    sa.Column('member', sa.String(length=64), nullable=False),
    sa.Column('at', store.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_executed_act')),
    sa.UniqueConstraint('digest', name=op.f('uq_executed_act_digest'))
    )


def downgrade() -> None:
    op.drop_table('executed_act')
