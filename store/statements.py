"""Prebuilt Core statements for the hot paths: built once, executed with parameters (no ORM flush)."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from .base import UTCDateTime
from .vocabulary import DeliveryState, ItemState
from .models import (
    AuditEvent, Counter, Deadline, Message, OutboundMail, Partner, QueueItem, Recipient, RetentionPeriod, SealedBlob,
)

_q = QueueItem.__table__.c
_a = AuditEvent.__table__.c
_c = Counter.__table__.c
_p = Partner.__table__.c
_m = Message.__table__.c
_o = OutboundMail.__table__.c
_b = SealedBlob.__table__.c
_rp = RetentionPeriod.__table__.c
_r = Recipient.__table__.c

QUEUE_PUT = insert(QueueItem.__table__)
QUEUE_PUT_RETURNING = insert(QueueItem.__table__).returning(_q.id, sort_by_parameter_order=True)
QUEUE_NEXT = (
    select(_q.id, _q.queue, _q.payload, _q.priority, _q.attempts, _q.created_at)
    .where(_q.queue == bindparam("b_queue"), _q.state == ItemState.READY, _q.priority >= bindparam("b_at_least"),
           _q.available_at <= bindparam("b_now", type_=UTCDateTime()))
    .order_by(_q.priority.desc(), _q.available_at, _q.id)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)
QUEUE_ANY_READY = (select(_q.id).where(_q.queue == bindparam("b_queue"), _q.state == ItemState.READY,
                                       _q.priority >= bindparam("b_at_least"),
                                       _q.available_at <= bindparam("b_now", type_=UTCDateTime())).limit(1))
QUEUE_LEASE = (update(QueueItem.__table__).where(_q.id.in_(bindparam("b_ids", expanding=True)))
               .values(state=ItemState.LEASED, lease_until=bindparam("b_lease_until", type_=UTCDateTime()),
                       attempts=_q.attempts + 1))
QUEUE_UPDATE = update(QueueItem.__table__).where(_q.id == bindparam("b_id"))
QUEUE_ACK = delete(QueueItem.__table__).where(_q.id == bindparam("b_id"))
QUEUE_ACK_MANY = delete(QueueItem.__table__).where(_q.id.in_(bindparam("b_ids", expanding=True)))
QUEUE_RELEASE_EXPIRED = (update(QueueItem.__table__)
                         .where(_q.state == ItemState.LEASED, _q.lease_until < bindparam("b_now", type_=UTCDateTime()))
                         .values(state=ItemState.READY, lease_until=None))
QUEUE_NEXT_AVAILABLE = (select(func.min(_q.available_at))
                        .where(_q.queue == bindparam("b_queue"), _q.state == ItemState.READY,
                               _q.priority >= bindparam("b_at_least")))
QUEUE_RELEASE = (update(QueueItem.__table__)
                 .where(_q.id.in_(bindparam("b_ids", expanding=True)), _q.state == ItemState.LEASED)
                 .values(state=ItemState.READY, lease_until=None))
QUEUE_RELEASE_LEASE = (update(QueueItem.__table__)
                       .where(_q.id.in_(bindparam("b_ids", expanding=True)), _q.state == ItemState.LEASED,
                              _q.lease_until == bindparam("b_lease_until", type_=UTCDateTime()))
                       .values(state=ItemState.READY, lease_until=None))

AUDIT_LAST_SEQ = select(_a.seq).order_by(_a.seq.desc()).limit(1)
AUDIT_INSERT = insert(AuditEvent.__table__)
# PostgreSQL: appenders to the log queue on this transaction-scoped lock, across processes, so two
# transactions never take the same leaf index, and the indexes committed are always 0..n-1 without a gap.
# (SQLite has one writer at a time anyway.)
AUDIT_APPEND_LOCK_KEY = 0x50415353_41554449  # "PASSAUDI"
AUDIT_APPEND_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=AUDIT_APPEND_LOCK_KEY)

COUNTER_NEXT = (update(Counter.__table__).where(_c.name == bindparam("b_name"))
                .values(value=_c.value + 1).returning(_c.value))
# The first of a name: two processes may both find no row; the upsert lets the second one increment.
COUNTER_UPSERT = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(Counter.__table__)
    .values(name=bindparam("b_name"), value=1)
    .on_conflict_do_update(index_elements=[_c.name], set_={"value": _c.value + 1})
    .returning(_c.value)
    for dialect in (postgresql, sqlite)
}

BLOB_INSERT = insert(SealedBlob.__table__).returning(SealedBlob.__table__.c.id)
# A sealed item under a period key the sealer already holds: inserted only while that period still has that
# very key (not destroyed, not another row's), as of this statement; no row inserted otherwise.
_BLOB_VALUES = ("key_id", "wrapped_key", "nonce", "ciphertext", "created_at")
BLOB_INSERT_UNDER = (insert(SealedBlob.__table__).from_select(
    [*_BLOB_VALUES, "period_id"],
    select(*(bindparam(name, type_=_b[name].type) for name in _BLOB_VALUES), _rp.id)
    .where(_rp.id == bindparam("b_period"), _rp.wrapped_key == bindparam("b_period_key", type_=_rp.wrapped_key.type)))
    .returning(SealedBlob.__table__.c.id))
PERIOD_KEY = select(_rp.id, _rp.wrapped_key).where(_rp.name == bindparam("b_name"))
MESSAGE_INSERT = insert(Message.__table__).returning(Message.__table__.c.id)
MESSAGE_UPDATE = update(Message.__table__).where(Message.__table__.c.id == bindparam("b_id"))
OUTBOUND_INSERT = insert(OutboundMail.__table__).returning(OutboundMail.__table__.c.id)
DEADLINE_INSERT = insert(Deadline.__table__)
OUTBOUND_UPDATE = update(OutboundMail.__table__).where(OutboundMail.__table__.c.id == bindparam("b_id"))
# A mail's outcome, recorded only while it is still pending: one statement decides whether this worker's
# outcome is the one (a redelivered copy's, recorded first, stands).
OUTBOUND_UPDATE_PENDING = OUTBOUND_UPDATE.where(OutboundMail.__table__.c.state == DeliveryState.PENDING)

# Admission: the partner a signature binds to, and the replay checks, without loading ORM objects.
PARTNER_STANDING = (select(_p.id, _p.name, _p.kind, _p.email, _p.key_expires_at, _p.key_revoked)
                    .where(_p.fingerprint == bindparam("b_fpr")))
MESSAGE_ID_BY_RFC = select(_m.id).where(_m.rfc_message_id == bindparam("b_rfc")).limit(1)
MESSAGE_ID_BY_SIGNATURE = select(_m.id).where(_m.signature_digest == bindparam("b_digest")).limit(1)
MESSAGE_REPLAY = (select(_m.rfc_message_id == bindparam("b_rfc"))
                  .where((_m.rfc_message_id == bindparam("b_rfc")) | (_m.signature_digest == bindparam("b_digest")))
                  .order_by((_m.rfc_message_id == bindparam("b_rfc")).desc()).limit(1))

MESSAGE_STATE = select(_m.state).where(_m.id == bindparam("b_id"))
OUTBOUND_STATE = select(_o.state).where(_o.id == bindparam("b_id"))
# Intake: what the stages need of a batch of accepted messages and their senders, in one query.
INTAKE_SNAPSHOTS = (
    select(_m.id, _m.state, _m.reference, _m.rfc_message_id, _m.body_digest, _m.received_at, _m.kind, _m.urgency,
           _m.embargo, _m.classification, _m.fields, _m.links, _p.id.label("partner_id"),
           _p.name.label("partner_name"), _p.kind.label("partner_kind"), _p.email.label("partner_email"),
           _p.fingerprint.label("partner_fingerprint"), _p.receipts.label("partner_receipts"))
    .join(Partner.__table__, _p.id == _m.partner_id)
    .where(_m.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(_m.id)
)
# Inbound copies: the duty desks, and an accepted message's sealed bytes with what its copies state.
RECIPIENT_KEYS = (select(_r.name, _r.email, _r.fingerprint, _r.clearance)
                  .where(_r.type == bindparam("b_type")).order_by(_r.name))
MESSAGE_SEALED = (select(_m.signer_fingerprint, _m.encrypted, _b.key_id, _b.wrapped_key, _b.nonce, _b.ciphertext,
                         _b.period_id, _rp.wrapped_key.label("period_key"))
                  .outerjoin(SealedBlob.__table__, _b.id == _m.raw_blob_id)
                  .outerjoin(RetentionPeriod.__table__, _rp.id == _b.period_id).where(_m.id == bindparam("b_id")))

# Delivery: a batch of pending mails with their sealed bytes and their message's reference, in one query.
OUTBOUND_JOBS = (
    select(_o.id, _o.message_id, _o.purpose, _o.rfc_message_id, _o.mail_from, _o.rcpt_to, _o.attempts,
           _o.created_at, _o.due_at, _o.state, _o.envelope_id, _b.key_id, _b.wrapped_key, _b.nonce, _b.ciphertext,
           _b.period_id, _rp.wrapped_key.label("period_key"), _m.reference, _m.received_at)
    .join(SealedBlob.__table__, _b.id == _o.blob_id)
    .outerjoin(RetentionPeriod.__table__, _rp.id == _b.period_id)
    .outerjoin(Message.__table__, _m.id == _o.message_id)
    .where(_o.id.in_(bindparam("b_ids", expanding=True)))
)
OUTBOUND_FIND = (select(_o.id).where(_o.message_id == bindparam("b_message"), _o.purpose == bindparam("b_purpose"),
                                      _o.rcpt_to == bindparam("b_rcpt")).limit(1))
