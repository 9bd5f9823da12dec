"""embargo: members, holder-list versions, items sealed to holders, joint decisions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 08:50:11.368737
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import store.base


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('holder_list_version',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('holders', sa.JSON(), nullable=False),
    sa.Column('change', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('signer_fingerprint', sa.String(length=40), nullable=False),
    sa.Column('signed_by', sa.String(length=64), nullable=False),
    sa.Column('changed_at', store.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holder_list_version')),
    sa.UniqueConstraint('kind', 'version', name='uq_holder_list_version')
    )
    op.create_table('member',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('fingerprint', sa.String(length=40), nullable=False),
    sa.Column('clearance', sa.String(length=16), nullable=False),
    sa.Column('key_expires_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', store.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member')),
    sa.UniqueConstraint('email', name=op.f('uq_member_email')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_member_fingerprint')),
    sa.UniqueConstraint('name', name=op.f('uq_member_name'))
    )
    op.create_table('embargo_decision',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('integrate', sa.String(length=16), nullable=False),
    sa.Column('consent', sa.String(length=8), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('statement_digest', sa.String(length=64), nullable=False),
    sa.Column('director_signature', sa.Text(), nullable=True),
    sa.Column('director_fingerprint', sa.String(length=40), nullable=True),
    sa.Column('second_signature', sa.Text(), nullable=True),
    sa.Column('second_fingerprint', sa.String(length=40), nullable=True),
    sa.Column('second_party', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('decided_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('superseded', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_embargo_decision_message_id_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embargo_decision')),
    sa.UniqueConstraint('statement_digest', name=op.f('uq_embargo_decision_statement_digest'))
    )
    with op.batch_alter_table('embargo_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_embargo_decision_message_id'), ['message_id'], unique=False)

    op.create_table('embargo_item',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('holder_version', sa.Integer(), nullable=False),
    sa.Column('holders', sa.JSON(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('content_digest', sa.String(length=64), nullable=False),
    sa.Column('sealed_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('resealed_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('resealed_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_embargo_item_message_id_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embargo_item')),
    sa.UniqueConstraint('message_id', name=op.f('uq_embargo_item_message_id'))
    )


def downgrade() -> None:
    op.drop_table('embargo_item')
    with op.batch_alter_table('embargo_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_embargo_decision_message_id'))

    op.drop_table('embargo_decision')
    op.drop_table('member')
    op.drop_table('holder_list_version')
