"""the head of each service of law Art. 12 registered as its own signer of joint decisions (issue 17)

Existing partners get none: a foreign item's joint decision waits for the head's registration
(`passerelle partner set NAME --head-key FILE --head-email ADDR`).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 02:50:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.add_column(sa.Column('head_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('head_fingerprint', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_partner_head_fingerprint'), ['head_fingerprint'])


def downgrade() -> None:
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_partner_head_fingerprint'), type_='unique')
        batch_op.drop_column('head_fingerprint')
        batch_op.drop_column('head_email')
