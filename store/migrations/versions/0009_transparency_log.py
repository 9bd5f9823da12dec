"""the audit log becomes a Merkle tree: a leaf index per event, tiles, checkpoints, cosignatures

The hash chain (prev_digest, digest) goes: each event gets ``seq``, its leaf index, 0, 1, 2, ... in the
order of its id (the order the chain had), and its detail is written again as canonical JSON. The tree's hashes are written by the first checkpoint issued
after the upgrade. Down again, the chain is computed anew over the events in that order (as the chain's
own code computed it), and the tree's tables go.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:00:00.000000
"""
from __future__ import annotations

import hashlib
import json

from alembic import op
import sqlalchemy as sa

import store.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _canonical_details() -> None:
    """Each event's detail written again as canonical JSON (keys sorted, no space, non-ASCII as itself), as the
    store now writes every JSON column: a leaf entry takes the detail's text as stored."""
    connection = op.get_bind()
    last, batch = -1, 5000
    while True:
        rows = connection.execute(sa.text("SELECT id, CAST(detail AS TEXT) FROM audit_event WHERE id > :last "
                                          "ORDER BY id LIMIT :n"), {"last": last, "n": batch}).all()
        changed = []
        for row_id, stored in rows:
            canonical = json.dumps(json.loads(stored), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            if canonical != stored:
                changed.append({"b_id": row_id, "b_detail": canonical})
            last = row_id
        if changed:
            statement = ("UPDATE audit_event SET detail = CAST(:b_detail AS JSON) WHERE id = :b_id"
                         if connection.dialect.name == "postgresql" else
                         "UPDATE audit_event SET detail = :b_detail WHERE id = :b_id")
            connection.execute(sa.text(statement), changed)
        if len(rows) < batch:
            return


def upgrade() -> None:
    _canonical_details()
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
    op.execute("UPDATE audit_event SET seq = r.n FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n"
               " FROM audit_event) AS r WHERE r.id = audit_event.id")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_event_seq'), ['seq'])
        batch_op.drop_constraint(batch_op.f('uq_audit_event_digest'), type_='unique')
        batch_op.drop_column('prev_digest')
        batch_op.drop_column('digest')
    op.create_table('log_tile',
                    sa.Column('level', sa.Integer(), nullable=False),
                    sa.Column('idx', sa.BigInteger(), nullable=False),
                    sa.Column('hashes', sa.LargeBinary(), nullable=False),
                    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_log_tile')))
    op.create_table('log_checkpoint',
                    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    sa.Column('size', sa.BigInteger(), nullable=False),
                    sa.Column('root', sa.String(length=64), nullable=False),
                    sa.Column('note', sa.Text(), nullable=False),
                    sa.Column('issued_at', store.base.UTCDateTime(), nullable=False),
                    sa.Column('reason', sa.String(length=16), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_checkpoint')),
                    sa.UniqueConstraint('size', name=op.f('uq_log_checkpoint_size')))
    op.create_table('log_cosignature',
                    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    sa.Column('witness', sa.String(length=64), nullable=False),
                    sa.Column('size', sa.BigInteger(), nullable=False),
                    sa.Column('key_name', sa.String(length=254), nullable=False),
                    sa.Column('timestamp', sa.BigInteger(), nullable=False),
                    sa.Column('note', sa.Text(), nullable=False),
                    sa.Column('received_at', store.base.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_cosignature')),
                    sa.UniqueConstraint('witness', 'size', name='uq_log_cosignature_once'))
    with op.batch_alter_table('log_cosignature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_cosignature_size'), ['size'], unique=False)


def _chain_digest(prev: str, at, actor: str, action: str, ref: str | None, detail) -> str:
    """The chain's digest of one event, as store/repositories.py computed it before 0009."""
    canonical = json.dumps([prev, at.isoformat(), actor, action, ref, detail], sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def downgrade() -> None:
    op.drop_table('log_cosignature')
    op.drop_table('log_checkpoint')
    op.drop_table('log_tile')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('digest', sa.String(length=64), nullable=True))
    events = sa.table('audit_event', sa.column('id', sa.BigInteger()), sa.column('seq', sa.BigInteger()),
                      sa.column('at', store.base.UTCDateTime()), sa.column('actor', sa.String()),
                      sa.column('action', sa.String()), sa.column('message_ref', sa.String()),
                      sa.column('detail', sa.JSON()), sa.column('prev_digest', sa.String()),
                      sa.column('digest', sa.String()))
    connection = op.get_bind()
    prev, last, batch = GENESIS, -1, 5000
    while True:
        rows = connection.execute(sa.select(events.c.id, events.c.seq, events.c.at, events.c.actor,
                                            events.c.action, events.c.message_ref, events.c.detail)
                                  .where(events.c.seq > last).order_by(events.c.seq).limit(batch)).all()
        updates = []
        for row in rows:
            digest = _chain_digest(prev, row.at, row.actor, row.action, row.message_ref, row.detail)
            updates.append({"b_id": row.id, "prev_digest": prev, "digest": digest})
            prev, last = digest, row.seq
        if updates:
            connection.execute(sa.update(events).where(events.c.id == sa.bindparam("b_id")), updates)
        if len(rows) < batch:
            break
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('prev_digest', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('digest', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_event_digest'), ['digest'])
        batch_op.drop_constraint(batch_op.f('uq_audit_event_seq'), type_='unique')
        batch_op.drop_column('seq')
