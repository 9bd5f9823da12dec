"""Typed ORM models: partners, retention periods and sealed blobs, messages, queue, outbound mail, audit events,
heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime
from .vocabulary import DeadlineState, DeliveryState, ItemState


BigId = BigInteger().with_variant(Integer, "sqlite")


class Partner(Base):
    """A support service's contact point and the one OpenPGP key bound to it."""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(40), unique=True)
    key_created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    key_revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    clearance: Mapped[str] = mapped_column(String(16), default="SECRET")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # How its receipts travel: "encrypted" to its key (signed inside), or "signed" only (AR Art. 11 §7).
    receipts: Mapped[str] = mapped_column(String(16), default="encrypted")
    # The relay is this partner's own mail server: the relay's 250 is its acknowledgement (AR Art. 11 §2).
    relay_is_own_server: Mapped[bool] = mapped_column(Boolean, default=False)
    # The head of the service (law Art. 12 al. 1, 3: intelligence, customs, foreign affairs), its own signer of the
    # joint decisions on the foreign items the service provides: an address in a user id of its one key.
    head_email: Mapped[Optional[str]] = mapped_column(String(254))
    head_fingerprint: Mapped[Optional[str]] = mapped_column(String(40), unique=True)


class RetentionPeriod(Base):
    """The wrapping key of the blobs sealed in one calendar month (UTC), kept only wrapped under the storage
    key. ``wrapped_key`` set to NULL destroys it: nothing sealed under it can be opened again."""

    __tablename__ = "retention_period"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM
    key_id: Mapped[str] = mapped_column(String(32))  # the storage key that wraps it
    wrapped_key: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    destroyed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())


class SealedBlob(Base):
    """Bytes sealed at rest: a per-item data key wrapped by the key of its retention period, itself wrapped by
    the storage key (a blob sealed before revision 0010 has no period: the storage key wraps its data key).

    Deleting ``wrapped_key`` destroys the item for good (crypto-shredding); so does destroying its period's key.
    """

    __tablename__ = "sealed_blob"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32))
    wrapped_key: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    period_id: Mapped[Optional[int]] = mapped_column(ForeignKey("retention_period.id"), index=True)

    period: Mapped[Optional[RetentionPeriod]] = relationship(lazy="select")

    @property
    def period_key(self) -> bytes | None:
        """Its period's wrapped key (None once destroyed, and for a blob sealed before periods)."""
        return self.period.wrapped_key if self.period is not None else None


class Message(Base):
    """One message through the hub: its metadata in clear, its bytes sealed."""

    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_state_received", "state", "received_at"),
        Index("ix_message_due_open", "due_at"),
        Index("ix_message_partner_received", "partner_id", "received_at"),  # a partner's last message
        Index("ix_message_urgency", "urgency"),  # the dashboard's counts by urgency
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    partner_id: Mapped[Optional[int]] = mapped_column(ForeignKey("partner.id"))
    rfc_message_id: Mapped[str] = mapped_column(String(998), unique=True)
    signature_digest: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    body_digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    signer_fingerprint: Mapped[Optional[str]] = mapped_column(String(40))
    mail_from: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    urgency_source: Mapped[str] = mapped_column(String(16))
    embargo: Mapped[Optional[str]] = mapped_column(String(16))
    classification: Mapped[Optional[str]] = mapped_column(String(32))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    links: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # Message-IDs it answers or acknowledges
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))  # a MessageState
    receipt_status: Mapped[str] = mapped_column(String(16))  # a ReceiptStatus
    raw_blob_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sealed_blob.id"))

    partner: Mapped[Optional[Partner]] = relationship(lazy="joined")
    raw_blob: Mapped[Optional[SealedBlob]] = relationship(lazy="select")


class QueueItem(Base):
    """An item of the embedded transport (and, later, the outbox of the broker)."""

    __tablename__ = "queue_item"
    __table_args__ = (Index("ix_queue_item_claim", "queue", "state", "priority", "available_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    queue: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=ItemState.READY)  # an ItemState
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboundMail(Base):
    """A mail the hub sends through the relay (a receipt, later reminders and evaluations)."""

    __tablename__ = "outbound_mail"
    __table_args__ = (UniqueConstraint("message_id", "purpose", "rcpt_to", name="uq_outbound_mail_once"),
                      Index("ix_outbound_mail_due", "state", "due_at"),
                      Index("ix_outbound_mail_acknowledge_by", "acknowledge_by"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[Optional[int]] = mapped_column(ForeignKey("message.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    rfc_message_id: Mapped[str] = mapped_column(String(998))
    mail_from: Mapped[str] = mapped_column(String(254))
    rcpt_to: Mapped[str] = mapped_column(String(254))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    blob_id: Mapped[int] = mapped_column(ForeignKey("sealed_blob.id"))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)  # a DeliveryState
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())  # delivery delay of its urgency
    on_time: Mapped[Optional[bool]] = mapped_column(Boolean)  # set when sent, or False when found overdue
    acknowledged_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())  # the recipient's MDN
    envelope_id: Mapped[Optional[str]] = mapped_column(String(100))  # ENVID of a copy sent asking for DSNs (RFC 3461)
    # A request's copy the partner's side has not acknowledged: when to alert the duty officer (cleared when
    # its clock starts, or once the alert is raised).
    acknowledge_by: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    blob: Mapped[SealedBlob] = relationship(lazy="select")


class AuditEvent(Base):
    """One step that happened: who, what, when, which message — never content.

    ``seq`` is the event's leaf index in the log's Merkle tree (0, 1, 2, ... without a gap, in the order
    of the appends); the tree's hashes and signed checkpoints (store/transparency.py) make an altered,
    removed or rewritten row detectable afterwards (law Art. 9 §3, 7°; AR Art. 6 §4).
    """

    __tablename__ = "audit_event"
    # The dashboard's per-minute rates: one range scan of the last half hour, action read from the index.
    __table_args__ = (Index("ix_audit_event_at_action", "at", "action"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    message_ref: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)


class Counter(Base):
    """Named monotonic counters (message references per year)."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigId)


class Deadline(Base):
    """A legal response clock: who owes an answer to which request, by when, and what became of it.

    ``next_action_at`` is when the scheduler must next look at it (a reminder, the due time, an
    escalation); the scheduler reads the minimum through its index, never scanning open deadlines.
    """

    __tablename__ = "deadline"
    __table_args__ = (Index("ix_deadline_next_action", "state", "next_action_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    owed_by: Mapped[str] = mapped_column(String(8))  # ocam | partner
    urgency: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_by: Mapped[str] = mapped_column(String(16))  # receipt | mdn | dsn | relay
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    basis: Mapped[Optional[str]] = mapped_column(String(200))  # what set due_at: article, urgency, delay, deviation
    state: Mapped[str] = mapped_column(String(16), default=DeadlineState.OPEN)  # a DeadlineState
    answered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    answer_message_id: Mapped[Optional[int]] = mapped_column(ForeignKey("message.id"))
    on_time: Mapped[Optional[bool]] = mapped_column(Boolean)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    next_action_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())


class Recipient(Base):
    """A recipient of evaluations beyond the support services (law Art. 10): its address, key and clearance."""

    __tablename__ = "recipient"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(40))
    key_expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    clearance: Mapped[str] = mapped_column(String(16))
    oversees: Mapped[list[str]] = mapped_column(JSON, default=list)  # a minister: the partner kinds under it
    basis: Mapped[Optional[str]] = mapped_column(Text)  # a public authority: its stated need to know
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Distribution(Base):
    """Why one recipient did or did not receive one evaluation: legal basis, checks, operator's decision."""

    __tablename__ = "distribution"
    __table_args__ = (UniqueConstraint("message_id", "name", name="uq_distribution_once"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(254))
    basis: Mapped[str] = mapped_column(Text)
    included: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[Optional[str]] = mapped_column(Text)  # why excluded (operator's words), or None
    checks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # clearance and key status at send time
    decided_by: Mapped[str] = mapped_column(String(128))


class Heartbeat(Base):
    """The last word of one component (gateway, store, gpg, relay, scheduler) of one serving process: its
    state, a short detail, when.

    Written by every ``passerelle serve`` process every few seconds, one row per component it runs;
    the dashboard reads them from another process. ``process`` names the writer as ROLE@HOST:PID.
    ``every_seconds`` is the writer's clock time between two beats, so a reader knows when a beat has
    gone stale. The detail is a status line (addresses, counts, latencies): never a secret, never
    message content.
    """

    __tablename__ = "heartbeat"

    component: Mapped[str] = mapped_column(String(16), primary_key=True)
    process: Mapped[str] = mapped_column(String(80), primary_key=True, default="")
    state: Mapped[str] = mapped_column(String(16))  # a HealthState
    detail: Mapped[str] = mapped_column(String(200))
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    every_seconds: Mapped[float] = mapped_column(Float)
