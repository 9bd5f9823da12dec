"""Repositories: query and add rows through a given session; they never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.orm import Session

from . import statements as S
from .vocabulary import ALERT_PREFIX, Action, DeadlineState, DeliveryState, MessageState
from .models import (
    AuditEvent, Deadline, Distribution, Heartbeat, Message, OutboundMail, Partner, Recipient, SealedBlob,
)

_AUDIT_ROWS_PER_INSERT = 100  # rows of one executemany (7 parameters each)
_DEADLINE_ROWS_PER_INSERT = 50  # 13 columns



def is_alert():
    """action LIKE 'alert.%' written as a range, so that it seeks the action index instead of scanning the log."""
    return (AuditEvent.action >= ALERT_PREFIX) & (AuditEvent.action < ALERT_PREFIX[:-1] + "/")


class _Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _core(self, statement, params: dict[str, Any]):
        """Execute a prebuilt Core statement on this unit of work's connection."""
        return self.session.connection().execute(statement, params)

    def _insert_rows(self, statement, rows: list[dict[str, Any]], per_statement: int) -> None:
        """Insert *rows* in order, each run of rows with the same columns as one executemany of up to
        *per_statement* rows: the statement is compiled once and cached (a multi-row VALUES is compiled
        anew for every row count, which cost more than the inserts themselves)."""
        start = 0
        while start < len(rows):
            keys, end = rows[start].keys(), start + 1
            while end < len(rows) and end - start < per_statement and rows[end].keys() == keys:
                end += 1
            if end - start == 1:
                self._core(statement, rows[start])
            else:
                self.session.connection().execute(statement, rows[start:end])
            start = end


class PartnerRepository(_Repository):
    """Support services' contact points and their bound keys."""

    def add(self, partner: Partner) -> Partner:
        self.session.add(partner)
        return partner

    def get(self, partner_id: int) -> Partner | None:
        return self.session.get(Partner, partner_id)

    def by_name(self, name: str) -> Partner | None:
        return self.session.scalar(select(Partner).where(Partner.name == name))

    def by_email(self, email: str) -> Partner | None:
        return self.session.scalar(select(Partner).where(Partner.email == email.lower()))

    def by_fingerprint(self, fingerprint: str) -> Partner | None:
        return self.session.scalar(select(Partner).where(Partner.fingerprint == fingerprint.upper()))

    def by_head_fingerprint(self, fingerprint: str) -> Partner | None:
        """The partner whose head of service (law Art. 12 al. 3) is registered with this key."""
        return self.session.scalar(select(Partner).where(Partner.head_fingerprint == fingerprint.upper()))

    def standing(self, fingerprint: str) -> Row | None:
        """What admission decides on (id, name, kind, email, key_expires_at, key_revoked), read-only (Core)."""
        return self._core(S.PARTNER_STANDING, {"b_fpr": fingerprint.upper()}).first()

    def all(self) -> Sequence[Partner]:
        return self.session.scalars(select(Partner).order_by(Partner.name)).all()


class BlobRepository(_Repository):
    """Sealed bytes at rest."""

    def add(self, *, key_id: str, wrapped_key: bytes, nonce: bytes, ciphertext: bytes, now: datetime,
            period_id: int) -> int:
        """Insert a sealed item, its data key wrapped by the key of period *period_id*; returns its id."""
        return self._core(S.BLOB_INSERT, dict(key_id=key_id, wrapped_key=wrapped_key, nonce=nonce,
                                              ciphertext=ciphertext, created_at=now, period_id=period_id)).scalar_one()

    def add_under(self, *, key_id: str, wrapped_key: bytes, nonce: bytes, ciphertext: bytes, now: datetime,
                  period_id: int, period_key: bytes) -> int | None:
        """Insert a sealed item if period *period_id* still has the wrapped key *period_key* (the one its data
        key was wrapped by); its id, or None when the period's key is no longer that one (nothing inserted)."""
        return self._core(S.BLOB_INSERT_UNDER, dict(
            key_id=key_id, wrapped_key=wrapped_key, nonce=nonce, ciphertext=ciphertext, created_at=now,
            b_period=period_id, b_period_key=period_key)).scalar()

    def get(self, blob_id: int) -> SealedBlob | None:
        return self.session.get(SealedBlob, blob_id)


class MessageRepository(_Repository):
    """Messages through the hub, by reference, Message-ID or signature."""

    def insert(self, **values: Any) -> int:
        """Insert a message row (hot path: Core, no ORM flush); returns its id."""
        return self._core(S.MESSAGE_INSERT, values).scalar_one()

    def update(self, message_id: int, **values: Any) -> None:
        self._core(S.MESSAGE_UPDATE, {"b_id": message_id, **values})

    def get(self, message_id: int) -> Message | None:
        return self.session.get(Message, message_id)

    def answered_by_ids(self, rfc_ids: list[str]) -> Message | None:
        """The message one of these Message-IDs names: a message received, or one the hub sent for it."""
        if not rfc_ids:
            return None
        found = self.session.scalars(select(Message).where(Message.rfc_message_id.in_(rfc_ids))).all()
        if not found:
            via_outbound = select(OutboundMail.message_id).where(OutboundMail.rfc_message_id.in_(rfc_ids))
            found = self.session.scalars(select(Message).where(Message.id.in_(via_outbound))).all()
        order = {rfc: i for i, rfc in enumerate(rfc_ids)}
        return min(found, key=lambda m: order.get(m.rfc_message_id, len(order))) if found else None

    def held_for(self, partner_id: int) -> Sequence[Message]:
        return self.session.scalars(select(Message).where(
            Message.partner_id == partner_id, Message.direction == "outbound", Message.state == MessageState.HELD)
            .order_by(Message.id)).all()

    def state_of(self, message_id: int) -> str | None:
        return self._core(S.MESSAGE_STATE, {"b_id": message_id}).scalar()

    def intake_snapshots(self, ids: list[int]) -> list[Row]:
        """Accepted messages with their sender's id, name, kind and address (Core rows, one query)."""
        return list(self._core(S.INTAKE_SNAPSHOTS, {"b_ids": ids})) if ids else []

    def sealed(self, message_id: int) -> Row | None:
        """A message's signer and encrypted flag with its sealed blob's fields (None when it keeps no blob)."""
        return self._core(S.MESSAGE_SEALED, {"b_id": message_id}).first()

    def reference_of(self, message_id: int) -> str | None:
        return self.session.scalar(select(Message.reference).where(Message.id == message_id))

    def by_reference(self, reference: str) -> Message | None:
        return self.session.scalar(select(Message).where(Message.reference == reference))

    def by_rfc_message_id(self, rfc_message_id: str) -> Message | None:
        return self.session.scalar(select(Message).where(Message.rfc_message_id == rfc_message_id))

    def by_signature_digest(self, digest: str) -> Message | None:
        return self.session.scalar(select(Message).where(Message.signature_digest == digest))

    def id_by_rfc_message_id(self, rfc_message_id: str) -> int | None:
        """The id of the message with this Message-ID, if any (an index lookup, no ORM object)."""
        return self._core(S.MESSAGE_ID_BY_RFC, {"b_rfc": rfc_message_id}).scalar()

    def id_by_signature_digest(self, digest: str) -> int | None:
        return self._core(S.MESSAGE_ID_BY_SIGNATURE, {"b_digest": digest}).scalar()

    def replayed(self, rfc_message_id: str, signature_digest: str) -> str | None:
        """"message-id" if a message with this Message-ID is stored, else "signature" if one with this
        signature digest is, else None: both replay checks in one statement (two index lookups)."""
        same_id = self._core(S.MESSAGE_REPLAY, {"b_rfc": rfc_message_id, "b_digest": signature_digest}).scalar()
        return None if same_id is None else "message-id" if same_id else "signature"

    def recent(self, *, limit: int = 100, state: str | None = None) -> Sequence[Message]:
        query = select(Message).order_by(Message.id.desc()).limit(limit)
        if state is not None:
            query = query.where(Message.state == state)
        return self.session.scalars(query).all()

    def count(self) -> int:
        return self.session.scalar(select(func.count(Message.id))) or 0


class OutboundRepository(_Repository):
    """Mail the hub sends; one row per (message, purpose, recipient)."""

    def insert(self, **values: Any) -> int:
        """Insert an outbound mail row; returns its id."""
        return self._core(S.OUTBOUND_INSERT, values).scalar_one()

    def update(self, mail_id: int, **values: Any) -> None:
        self._core(S.OUTBOUND_UPDATE, {"b_id": mail_id, **values})

    def update_pending(self, mail_id: int, **values: Any) -> bool:
        """Update the mail if it is still pending; False when it is not (or is gone)."""
        return self._core(S.OUTBOUND_UPDATE_PENDING, {"b_id": mail_id, **values}).rowcount == 1

    def get(self, mail_id: int) -> OutboundMail | None:
        return self.session.get(OutboundMail, mail_id)

    def jobs(self, mail_ids: list[int]) -> dict[int, Row]:
        """Mails by id, each with its sealed blob's fields and its message's reference, in one query (Core)."""
        if not mail_ids:
            return {}
        return {row.id: row for row in self._core(S.OUTBOUND_JOBS, {"b_ids": mail_ids})}

    def state_of(self, mail_id: int) -> str | None:
        return self._core(S.OUTBOUND_STATE, {"b_id": mail_id}).scalar()

    def find(self, message_id: int, purpose: str, rcpt_to: str) -> int | None:
        return self._core(S.OUTBOUND_FIND, {"b_message": message_id, "b_purpose": purpose, "b_rcpt": rcpt_to}).scalar()

    def failed(self) -> Sequence[OutboundMail]:
        """Deliveries given up on (refused for good, or too old), oldest first."""
        return self.session.scalars(select(OutboundMail).where(OutboundMail.state == DeliveryState.FAILED)
                                    .order_by(OutboundMail.id)).all()

    def overdue(self, due_by: datetime, *, limit: int = 100) -> Sequence[OutboundMail]:
        """Deliveries still pending that were due at or before *due_by*, not yet reported (index on state, due_at)."""
        return self.session.scalars(
            select(OutboundMail).where(OutboundMail.state == DeliveryState.PENDING, OutboundMail.due_at <= due_by,
                                       OutboundMail.on_time.is_(None)).order_by(OutboundMail.due_at).limit(limit)
        ).all()

    def next_due(self) -> datetime | None:
        return self.session.scalar(
            select(OutboundMail.due_at)
            .where(OutboundMail.state == DeliveryState.PENDING, OutboundMail.due_at.is_not(None),
                   OutboundMail.on_time.is_(None)).order_by(OutboundMail.due_at).limit(1))

    def by_rfc_message_id(self, rfc_message_id: str) -> OutboundMail | None:
        return self.session.scalar(select(OutboundMail).where(OutboundMail.rfc_message_id == rfc_message_id))

    def unacknowledged(self, now: datetime, *, limit: int = 100) -> Sequence[OutboundMail]:
        """Copies whose acknowledgement was due by *now* and has not come (index on acknowledge_by)."""
        return self.session.scalars(
            select(OutboundMail).where(OutboundMail.acknowledge_by <= now).order_by(OutboundMail.acknowledge_by)
            .limit(limit)).all()

    def next_acknowledgement(self) -> datetime | None:
        return self.session.scalar(select(OutboundMail.acknowledge_by).where(OutboundMail.acknowledge_by.is_not(None))
                                   .order_by(OutboundMail.acknowledge_by).limit(1))

    def held(self, rcpt_to: str, purpose: str) -> Sequence[OutboundMail]:
        """Mail held for *rcpt_to* (a key that cannot be used), oldest first."""
        return self.session.scalars(
            select(OutboundMail).where(OutboundMail.state == DeliveryState.HELD, OutboundMail.rcpt_to == rcpt_to,
                                       OutboundMail.purpose == purpose).order_by(OutboundMail.id)).all()

    def count(self, *, state: str) -> int:
        """How many mails are in *state* (the state side of the (state, due_at) index)."""
        return self.session.scalar(select(func.count(OutboundMail.id)).where(OutboundMail.state == state)) or 0

    def for_message(self, message_id: int) -> Sequence[OutboundMail]:
        return self.session.scalars(
            select(OutboundMail).where(OutboundMail.message_id == message_id).order_by(OutboundMail.id)
        ).all()

    def acknowledged(self, message_id: int) -> None:
        """No acknowledgement is awaited any more for the request copies of *message_id*. One UPDATE, not the
        rows as this session loaded them: on PostgreSQL it waits for, and then sees, a concurrent recording of
        the relay's 250 that set the awaited time after this transaction read the copy."""
        self.session.execute(update(OutboundMail).where(
            OutboundMail.message_id == message_id, OutboundMail.purpose == "request",
            OutboundMail.acknowledge_by.is_not(None)).values(acknowledge_by=None).execution_options(
            synchronize_session=False))


class AuditRepository(_Repository):
    """The append-only audit log: each event takes the next leaf index of the log's Merkle tree.

    Events take their indexes when they are written — last in the transaction, just before its commit —
    so that on PostgreSQL the log's append lock is held from that insert to the commit, not through the
    whole transaction: one worker parsing, verifying and sealing does not hold back another's commit.
    """

    _next: int | None = None
    _pending: list[dict[str, Any]] | None = None

    def append(self, *, at: datetime, actor: str, action: str, message_ref: str | None = None,
               detail: dict[str, Any] | None = None) -> None:
        """Append one event; it takes the next leaf index when it is written (writers are serialised).

        The row is written with the others of this transaction, in one statement, when the unit of
        work commits or flushes (or before this repository reads): same transaction, fewer statements.
        Nothing is hashed here: whoever issues the next checkpoint hashes the new events.
        """
        if at.tzinfo is None:
            raise ValueError("naive datetime given to the audit log")
        if self._pending is None:
            self._pending = []
        self._pending.append(dict(at=at, actor=actor, action=action, message_ref=message_ref, detail=detail or {}))

    def write_pending(self) -> None:
        """Insert the events appended and not yet written, in order, at the next leaf indexes (ids follow
        them). The first write of a transaction takes the append lock (PostgreSQL; held until the
        transaction ends) and reads the last index; later ones in the same transaction go on from it."""
        rows, self._pending = self._pending, None
        if not rows:
            return
        if self._next is None:
            if self.session.get_bind().dialect.name == "postgresql":
                self._core(S.AUDIT_APPEND_LOCK, {})
            last = self._core(S.AUDIT_LAST_SEQ, {}).scalar()
            self._next = 0 if last is None else last + 1
        for row in rows:
            row["seq"], self._next = self._next, self._next + 1
        self._insert_rows(S.AUDIT_INSERT, rows, _AUDIT_ROWS_PER_INSERT)

    def for_message(self, reference: str) -> Sequence[AuditEvent]:
        self.write_pending()
        return self.session.scalars(
            select(AuditEvent).where(AuditEvent.message_ref == reference).order_by(AuditEvent.id)
        ).all()

    def recent(self, *, action: str | None = None, limit: int = 100) -> Sequence[AuditEvent]:
        self.write_pending()
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return self.session.scalars(query).all()

    def get(self, event_id: int) -> AuditEvent | None:
        self.write_pending()
        return self.session.get(AuditEvent, event_id)

    def open_alerts(self, *, limit: int = 200) -> list[tuple[int, datetime, str, str | None, dict]]:
        """Alerts nobody acknowledged yet, newest first: (event id, when, action, reference, detail)."""
        self.write_pending()
        acked = {e.detail.get("alert") for e in self.session.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.ALERT_ACKNOWLEDGED))}
        rows = self.session.execute(
            select(AuditEvent.id, AuditEvent.at, AuditEvent.action, AuditEvent.message_ref, AuditEvent.detail)
            .where(is_alert()).order_by(AuditEvent.id.desc()).limit(limit))
        return [tuple(r) for r in rows if r[0] not in acked]

    def acknowledged(self, event_id: int) -> bool:
        self.write_pending()
        return any(e.detail.get("alert") == event_id for e in self.session.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.ALERT_ACKNOWLEDGED)))


class CounterRepository(_Repository):
    """Monotonic named counters, incremented inside the caller's transaction."""

    def next(self, name: str) -> int:
        value = self._core(S.COUNTER_NEXT, {"b_name": name}).scalar()  # UPDATE ... RETURNING: a row lock
        if value is None:
            return self._core(S.COUNTER_UPSERT[self.session.get_bind().dialect.name], {"b_name": name}).scalar_one()
        return value


class DeadlineRepository(_Repository):
    """Legal clocks: one per request, found by message or by the scheduler's next action.

    Clocks started in a transaction are written together when it commits or flushes, or before this
    repository reads: one multi-row INSERT for an intake batch, not one each.
    """

    _pending: list[dict[str, Any]] | None = None

    def add(self, **values: Any) -> None:
        """Start a clock (hot path: Core, no ORM flush)."""
        if self._pending is None:
            self._pending = []
        self._pending.append(values)

    def write_pending(self) -> None:
        rows, self._pending = self._pending, None
        if rows:
            self._insert_rows(S.DEADLINE_INSERT, rows, _DEADLINE_ROWS_PER_INSERT)

    def for_message(self, message_id: int) -> Deadline | None:
        self.write_pending()
        return self.session.scalar(select(Deadline).where(Deadline.message_id == message_id))

    def answer(self, deadline_id: int, *, answered_at: datetime, answer_message_id: int, on_time: bool) -> bool:
        """Stop an open clock; False when it was no longer open (answered meanwhile)."""
        self.write_pending()
        result = self.session.execute(
            update(Deadline).where(Deadline.id == deadline_id, Deadline.state == DeadlineState.OPEN)
            .values(state=DeadlineState.ANSWERED, answered_at=answered_at, answer_message_id=answer_message_id,
                    on_time=on_time, next_action_at=None)
        )
        return bool(result.rowcount)

    def next_action_at(self) -> datetime | None:
        """The earliest time any open clock needs attention (an index lookup, not a scan)."""
        self.write_pending()
        return self.session.scalar(
            select(Deadline.next_action_at)
            .where(Deadline.state == DeadlineState.OPEN, Deadline.next_action_at.is_not(None))
            .order_by(Deadline.next_action_at).limit(1)
        )

    def due_for_action(self, now: datetime, *, limit: int = 100) -> Sequence[tuple[Deadline, str, Partner]]:
        """Open clocks whose next action has come, with their request's reference and partner, in one query."""
        self.write_pending()
        return self.session.execute(
            select(Deadline, Message.reference, Partner)
            .join(Message, Message.id == Deadline.message_id).join(Partner, Partner.id == Deadline.partner_id)
            .where(Deadline.state == DeadlineState.OPEN, Deadline.next_action_at <= now)
            .order_by(Deadline.next_action_at).limit(limit).with_for_update(skip_locked=True, of=Deadline)
        ).all()


class RecipientRepository(_Repository):
    """Recipients of evaluations (law Art. 10) other than the support services."""

    def add(self, recipient: Recipient) -> Recipient:
        self.session.add(recipient)
        self.session.flush()
        return recipient

    def by_name(self, name: str) -> Recipient | None:
        return self.session.scalar(select(Recipient).where(Recipient.name == name))

    def by_email(self, email: str) -> Recipient | None:
        return self.session.scalar(select(Recipient).where(Recipient.email == email.lower()))

    def by_fingerprint(self, fingerprint: str) -> Recipient | None:
        return self.session.scalar(select(Recipient).where(Recipient.fingerprint == fingerprint.upper()))

    def of_type(self, *types: str) -> Sequence[Recipient]:
        return self.session.scalars(select(Recipient).where(Recipient.type.in_(types)).order_by(Recipient.name)).all()

    def keys_of_type(self, type_: str) -> list[Row]:
        """(name, email, fingerprint, clearance) of the recipients of one type, by name: Core rows, for the intake
        path (every accepted message looks up OCAM's duty desks)."""
        return list(self._core(S.RECIPIENT_KEYS, {"b_type": type_}))

    def all(self) -> Sequence[Recipient]:
        return self.session.scalars(select(Recipient).order_by(Recipient.type, Recipient.name)).all()


class DistributionRepository(_Repository):
    """Who received each evaluation, or did not, and why."""

    def add(self, entry: Distribution) -> None:
        self.session.add(entry)

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        """Insert entries given as column values (Core, no ORM flush: the intake path)."""
        if rows:
            self.session.connection().execute(insert(Distribution), rows)

    def for_message(self, message_id: int) -> Sequence[Distribution]:
        return self.session.scalars(
            select(Distribution).where(Distribution.message_id == message_id).order_by(Distribution.id)).all()

    def find(self, message_id: int, name: str) -> Distribution | None:
        return self.session.scalar(
            select(Distribution).where(Distribution.message_id == message_id, Distribution.name == name))


class HeartbeatRepository(_Repository):
    """The last heartbeat of each component of each serving process, overwritten at every beat."""

    def beat(self, component: str, *, process: str, state: str, detail: str, at: datetime,
             every_seconds: float) -> None:
        values = dict(state=state, detail=detail[:200], beat_at=at, every_seconds=every_seconds)
        updated = self.session.execute(
            update(Heartbeat).where(Heartbeat.component == component, Heartbeat.process == process)
            .values(**values)).rowcount
        if not updated:
            self.session.add(Heartbeat(component=component, process=process, **values))
            self.session.flush()

    def forget(self, process: str) -> None:
        """Remove a process's rows (it stopped cleanly)."""
        self.session.execute(delete(Heartbeat).where(Heartbeat.process == process))

    def forget_others(self, process: str) -> int:
        """Remove every other process's rows (the sole process on the store starts); how many."""
        return self.session.execute(delete(Heartbeat).where(Heartbeat.process != process)).rowcount

    def prune(self, before: datetime) -> int:
        """Remove rows not rewritten since *before* (processes gone long ago); how many."""
        return self.session.execute(delete(Heartbeat).where(Heartbeat.beat_at < before)).rowcount

    def all(self) -> Sequence[Heartbeat]:
        return self.session.scalars(select(Heartbeat).order_by(Heartbeat.component, Heartbeat.process)).all()
