"""embargo declarations: who declared each sealed item, and the Federal Prosecutor's confirmation of a judicial one

A judicial embargo is the Federal Prosecutor's decision (law Art. 11): declared by another service it awaits
the prosecutor's signed confirmation. Existing items get their declaring partner from their message; an
existing judicial item declared by the registered federal-prosecutor partner is confirmed as of its sealing,
any other stays unconfirmed until confirmed (still sealed: nothing is less protected).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 03:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from store.base import UTCDateTime


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('embargo_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declared_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by', sa.String(length=64), nullable=True))
    op.execute("UPDATE embargo_item SET declared_by = (SELECT partner.name FROM message JOIN partner "
               "ON partner.id = message.partner_id WHERE message.id = embargo_item.message_id)")
    op.execute("UPDATE embargo_item SET confirmed_at = sealed_at, confirmed_by = declared_by WHERE kind = 'judicial' "
               "AND declared_by IN (SELECT name FROM partner WHERE kind = 'federal-prosecutor')")


def downgrade() -> None:
    with op.batch_alter_table('embargo_item', schema=None) as batch_op:
        batch_op.drop_column('confirmed_by')
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('declared_by')
