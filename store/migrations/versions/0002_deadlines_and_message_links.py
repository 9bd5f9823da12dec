"""deadlines and message links

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 07:17:01.353563
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import store.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deadline',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owed_by', sa.String(length=8), nullable=False),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.Column('started_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('started_by', sa.String(length=16), nullable=False),
    sa.Column('due_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('answered_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('answer_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('on_time', sa.Boolean(), nullable=True),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('escalated_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('next_action_at', store.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['answer_message_id'], ['message.id'], name=op.f('fk_deadline_answer_message_id_message')),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_deadline_message_id_message')),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_deadline_partner_id_partner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline')),
    sa.UniqueConstraint('message_id', name=op.f('uq_deadline_message_id'))
    )
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.create_index('ix_deadline_next_action', ['state', 'next_action_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_partner_id'), ['partner_id'], unique=False)

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('links', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))



def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('links')

    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadline_partner_id'))
        batch_op.drop_index('ix_deadline_next_action')

    op.drop_table('deadline')
