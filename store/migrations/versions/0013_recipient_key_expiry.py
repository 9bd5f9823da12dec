"""recipients keep their key's expiry, as partners and members do (the dashboard's keys, issue 18)

Existing rows get none until the scheduler's key check reads the keyring (hub/deploy/expiry.py), within
minutes of the hub's next start.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 00:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from store.base import UTCDateTime


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('recipient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_expires_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('recipient', schema=None) as batch_op:
        batch_op.drop_column('key_expires_at')
