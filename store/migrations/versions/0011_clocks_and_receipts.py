"""clocks started by the partner's acknowledgement, what set each due time, and how receipts travel

A partner's receipts are encrypted to its key unless it asked for signed-only ones (AR Art. 11 §7), and the
relay's 250 starts a partner's clock only for a partner whose own server the relay is (AR Art. 11 §2): rows
already there take those defaults. A request's copy keeps the ENVID its DSNs quote (RFC 3461) and when to
alert if nobody acknowledged it; a clock keeps what set its due time.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import store.base


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipts', sa.String(length=16), nullable=False, server_default='encrypted'))
        batch_op.add_column(sa.Column('relay_is_own_server', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('envelope_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('acknowledge_by', store.base.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_outbound_mail_acknowledge_by', ['acknowledge_by'], unique=False)
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.add_column(sa.Column('basis', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.drop_column('basis')
    with op.batch_alter_table('outbound_mail', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_mail_acknowledge_by')
        batch_op.drop_column('acknowledge_by')
        batch_op.drop_column('envelope_id')
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.drop_column('relay_is_own_server')
        batch_op.drop_column('receipts')
