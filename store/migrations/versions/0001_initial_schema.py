"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 06:16:53.852209
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import store.base


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', store.base.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('message_ref', sa.String(length=32), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('prev_digest', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event')),
    sa.UniqueConstraint('digest', name=op.f('uq_audit_event_digest'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_message_ref'), ['message_ref'], unique=False)

    op.create_table('counter',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counter'))
    )
    op.create_table('partner',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('fingerprint', sa.String(length=40), nullable=False),
    sa.Column('key_created_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('key_expires_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('key_revoked', sa.Boolean(), nullable=False),
    sa.Column('created_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', store.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner')),
    sa.UniqueConstraint('email', name=op.f('uq_partner_email')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_partner_fingerprint')),
    sa.UniqueConstraint('name', name=op.f('uq_partner_name'))
    )
    op.create_table('queue_item',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('queue', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('available_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('lease_until', store.base.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', store.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_item'))
    )
    with op.batch_alter_table('queue_item', schema=None) as batch_op:
        batch_op.create_index('ix_queue_item_claim', ['queue', 'state', 'priority', 'available_at'], unique=False)

    op.create_table('sealed_blob',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', store.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sealed_blob'))
    )
    op.create_table('message',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('rfc_message_id', sa.String(length=998), nullable=False),
    sa.Column('signature_digest', sa.String(length=64), nullable=True),
    sa.Column('body_digest', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('encrypted', sa.Boolean(), nullable=False),
    sa.Column('signer_fingerprint', sa.String(length=40), nullable=True),
    sa.Column('mail_from', sa.String(length=254), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.Column('urgency_source', sa.String(length=16), nullable=False),
    sa.Column('embargo', sa.String(length=16), nullable=True),
    sa.Column('classification', sa.String(length=32), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('received_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('due_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('receipt_status', sa.String(length=16), nullable=False),
    sa.Column('raw_blob_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_message_partner_id_partner')),
    sa.ForeignKeyConstraint(['raw_blob_id'], ['sealed_blob.id'], name=op.f('fk_message_raw_blob_id_sealed_blob')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message')),
    sa.UniqueConstraint('reference', name=op.f('uq_message_reference')),
    sa.UniqueConstraint('rfc_message_id', name=op.f('uq_message_rfc_message_id')),
    sa.UniqueConstraint('signature_digest', name=op.f('uq_message_signature_digest'))
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_due_open', ['due_at'], unique=False)
        batch_op.create_index('ix_message_state_received', ['state', 'received_at'], unique=False)

    op.create_table('outbound_mail',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('rfc_message_id', sa.String(length=998), nullable=False),
    sa.Column('mail_from', sa.String(length=254), nullable=False),
    sa.Column('rcpt_to', sa.String(length=254), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('blob_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', store.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['blob_id'], ['sealed_blob.id'], name=op.f('fk_outbound_mail_blob_id_sealed_blob')),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_outbound_mail_message_id_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_mail')),
    sa.UniqueConstraint('message_id', 'purpose', 'rcpt_to', name='uq_outbound_mail_once')
    )


def downgrade() -> None:
    op.drop_table('outbound_mail')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_state_received')
        batch_op.drop_index('ix_message_due_open')

    op.drop_table('message')
    op.drop_table('sealed_blob')
    with op.batch_alter_table('queue_item', schema=None) as batch_op:
        batch_op.drop_index('ix_queue_item_claim')

    op.drop_table('queue_item')
    op.drop_table('partner')
    op.drop_table('counter')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_message_ref'))
        batch_op.drop_index(batch_op.f('ix_audit_event_action'))

    op.drop_table('audit_event')
