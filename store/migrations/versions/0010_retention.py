"""retention: the wrapping key of each period, every item's review and end dates, the signed acts about them

Every message already in the store becomes a held item dated from its intake (received_at): first review 30
years on, end 50 years on (law Art. 10/2 §1; AR Art. 5 §1), computed here as hub/retention/dates.py does in
2026 (a migration keeps the rule of its day). Blobs sealed before this revision keep their data key wrapped by
the storage key directly (period_id NULL); erasing one destroys that wrapped key and its ciphertext.

Down again is refused once any blob was sealed under a period key: below this revision nothing could open it.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01 22:44:51.721736
"""
from __future__ import annotations

from datetime import datetime

from alembic import op
import sqlalchemy as sa
import store.base


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

FIRST_REVIEW_YEARS, END_YEARS = 30, 50
ROWS_PER_ROUND = 5000


def upgrade() -> None:
    op.create_table('retention_period',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=7), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('destroyed_at', store.base.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_period')),
    sa.UniqueConstraint('name', name=op.f('uq_retention_period_name'))
    )
    op.create_table('retention_item',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('intake_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('review_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('end_at', store.base.UTCDateTime(), nullable=False),
    sa.Column('triggered_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('erased_at', store.base.UTCDateTime(), nullable=True),
    sa.Column('erased_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_retention_item_message_id_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_item')),
    sa.UniqueConstraint('message_id', name=op.f('uq_retention_item_message_id'))
    )
    with op.batch_alter_table('retention_item', schema=None) as batch_op:
        batch_op.create_index('ix_retention_item_end', ['state', 'end_at'], unique=False)
        batch_op.create_index('ix_retention_item_review', ['state', 'review_at'], unique=False)

    op.create_table('retention_act',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('act', sa.String(length=8), nullable=False),
    sa.Column('ground', sa.String(length=32), nullable=True),
    sa.Column('decision', sa.String(length=8), nullable=True),
    sa.Column('review_due', store.base.UTCDateTime(), nullable=True),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('statement_digest', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('signer_fingerprint', sa.String(length=40), nullable=False),
    sa.Column('signed_by', sa.String(length=64), nullable=False),
    sa.Column('at', store.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['retention_item.id'], name=op.f('fk_retention_act_item_id_retention_item')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_act')),
    sa.UniqueConstraint('statement_digest', name=op.f('uq_retention_act_statement_digest'))
    )
    with op.batch_alter_table('retention_act', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_act_item_id'), ['item_id'], unique=False)

    # An added column, not a rebuilt table: the blobs hold every ciphertext, and they are not copied.
    if op.get_bind().dialect.name == 'sqlite':  # SQLite adds a reference only with its column
        op.execute('ALTER TABLE sealed_blob ADD COLUMN period_id INTEGER '
                   'CONSTRAINT fk_sealed_blob_period_id_retention_period REFERENCES retention_period (id)')
    else:
        op.add_column('sealed_blob', sa.Column('period_id', sa.BigInteger(), nullable=True))
        op.create_foreign_key(op.f('fk_sealed_blob_period_id_retention_period'), 'sealed_blob', 'retention_period',
                              ['period_id'], ['id'])
    op.create_index(op.f('ix_sealed_blob_period_id'), 'sealed_blob', ['period_id'], unique=False)

    _date_existing_messages()


def _years_after(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def _date_existing_messages() -> None:
    message = sa.table('message', sa.column('id', sa.BigInteger()), sa.column('received_at', store.base.UTCDateTime()))
    item = sa.table('retention_item', sa.column('message_id', sa.BigInteger()),
                    sa.column('intake_at', store.base.UTCDateTime()), sa.column('review_at', store.base.UTCDateTime()),
                    sa.column('end_at', store.base.UTCDateTime()), sa.column('state', sa.String()))
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(sa.select(message.c.id, message.c.received_at).where(message.c.id > last)
                                  .order_by(message.c.id).limit(ROWS_PER_ROUND)).all()
        if not rows:
            return
        connection.execute(sa.insert(item), [
            dict(message_id=id_, intake_at=at, review_at=_years_after(at, FIRST_REVIEW_YEARS),
                 end_at=_years_after(at, END_YEARS), state='held') for id_, at in rows])
        last = rows[-1][0]


def downgrade() -> None:
    sealed = op.get_bind().execute(sa.text('SELECT count(*) FROM sealed_blob WHERE period_id IS NOT NULL')).scalar()
    if sealed:
        raise RuntimeError(f'{sealed} sealed blob(s) have their data key wrapped by a retention period key, which '
                           'revision 0008 does not know: below 0010 nothing could open them; downgrade refused')
    op.drop_index(op.f('ix_sealed_blob_period_id'), table_name='sealed_blob')
    if op.get_bind().dialect.name == 'sqlite':  # the table is rebuilt without the column and its reference
        with op.batch_alter_table('sealed_blob', schema=None) as batch_op:
            batch_op.drop_column('period_id')
    else:
        op.drop_constraint(op.f('fk_sealed_blob_period_id_retention_period'), 'sealed_blob', type_='foreignkey')
        op.drop_column('sealed_blob', 'period_id')

    with op.batch_alter_table('retention_act', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_act_item_id'))

    op.drop_table('retention_act')
    with op.batch_alter_table('retention_item', schema=None) as batch_op:
        batch_op.drop_index('ix_retention_item_review')
        batch_op.drop_index('ix_retention_item_end')

    op.drop_table('retention_item')
    op.drop_table('retention_period')
