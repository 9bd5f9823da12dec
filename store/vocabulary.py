"""The words the store's rows hold, in one place for every side of the store (hub, tui): urgencies, message and
embargo kinds, queue names, each state column's values and the audit actions more than one module writes or reads."""

from __future__ import annotations

from enum import StrEnum

URGENCIES = ("FLASH", "URGENT", "ROUTINE", "NON-URGENT")  # most urgent first (AR Art. 11 §3)
MESSAGE_KINDS = ("request", "response", "spontaneous")  # what a partner's message is (its Message-Kind)
EMBARGO_KINDS = ("judicial", "foreign")  # law Art. 11 (the Federal Prosecutor's) and Art. 12 (a foreign service's)


class Queue(StrEnum):
    """The stages items travel between (the queue table's `queue`, the broker's queue names)."""

    INTAKE = "intake"      # an accepted message, for the intake pipeline
    OUTBOUND = "outbound"  # a mail for the relay


class MessageState(StrEnum):
    """Where a message stands (message.state): an inbound one on its way through intake, an outbound one (a
    request, an evaluation) on its way to the relay."""

    ACCEPTED = "accepted"        # inbound, answered 250: waiting for the intake pipeline
    PROCESSED = "processed"      # inbound, through the pipeline (receipt made, clock started)
    QUARANTINED = "quarantined"  # inbound, set aside by the pipeline after an error (an operator may requeue it)
    HELD = "held"                # outbound request the partner's key cannot be encrypted to yet: not queued
    QUEUED = "queued"            # outbound, its copies in the outbox
    SENT = "sent"                # outbound request the relay took (its clock can start)


class ReceiptStatus(StrEnum):
    """What became of an inbound message's receipt (message.receipt_status)."""

    PENDING = "pending"  # not made yet (the pipeline makes it)
    HELD = "held"        # made, waiting for a key it can be encrypted to
    QUEUED = "queued"    # in the outbox
    SENT = "sent"        # the relay took it
    FAILED = "failed"    # given up: refused by the relay, out of retries, or reported undelivered (DSN)
    NONE = "none"        # no receipt is due: an outbound message, or an inbound one that gets none


class ItemState(StrEnum):
    """A queue item's state (queue_item.state) in the embedded transport and the broker's outbox."""

    READY = "ready"              # to be claimed once available_at has passed
    LEASED = "leased"            # claimed by a worker until lease_until (then ready again)
    QUARANTINED = "quarantined"  # set aside after an error or too many attempts, until an operator requeues it


class DeliveryState(StrEnum):
    """An outgoing mail's state (outbound_mail.state)."""

    PENDING = "pending"  # to be sent (or being retried)
    HELD = "held"        # not encrypted yet: waiting for a usable key of its recipient
    SENT = "sent"        # the relay took it
    FAILED = "failed"    # given up: refused, out of retries, reported undelivered, or its content erased


class DeadlineState(StrEnum):
    """A legal response clock's state (deadline.state)."""

    OPEN = "open"
    ANSWERED = "answered"


class HealthState(StrEnum):
    """A component's word in its heartbeat (heartbeat.state)."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
    STANDBY = "standby"  # a scheduler that is well but not leading (another process schedules)


class DecisionState(StrEnum):
    """A joint decision on an embargoed item (embargo_decision.state; law Art. 11-12 al. 3)."""

    PENDING = "pending"    # one signature of the two so far
    RECORDED = "recorded"  # both signatures verified: the decision may be in force


class RetentionState(StrEnum):
    """An item under retention (retention_item.state; law Art. 10/2)."""

    HELD = "held"
    ERASED = "erased"  # its content crypto-shredded: only its metadata remain


class Action(StrEnum):
    """Audit actions (the audit log's `action`)."""

    ALERT_ACKNOWLEDGED = "operator.alert_acknowledged"
    REQUEUED = "operator.requeued"
    DELIVERY_RETRIED = "operator.delivery_retried"
    INTAKE_ACCEPTED = "intake.accepted"  # the 250: the event a receipt proves (reference, digest, times)
    INTAKE_REFUSED = "intake.refused"  # a transaction answered 5xx (the dashboard counts them, `messages` lists them)
    RECEIPT_SIGNED = "receipt.signed"  # the pipeline made a message's receipt
    MDN_RECEIVED = "mdn.received"  # a partner's acknowledgement of a request
    DEADLINE_STARTED = "deadline.started"
    DELIVERY_QUARANTINED = "delivery.quarantined"  # an outgoing mail's queue item set aside after an error
    EVALUATION_INTEGRATES_EMBARGO = "evaluation.integrates_embargo"  # an evaluation sent with embargoed content
    LOG_INCONSISTENT = "alert.log_inconsistent"  # the stored log no longer gives a checkpoint it signed
    LOG_FORK = "alert.log_fork"  # two checkpoints of one size, or one inconsistent with a cosigned one
    WITNESS_REQUESTED = "witness.requested"  # a checkpoint sent to a witness to cosign
    WITNESS_COSIGNED = "witness.cosigned"  # a witness's cosignature stored
    KEY_EXPIRING = "alert.key_expiring"  # a registered key or the hub's reaches a warning threshold before expiry
    TLS_EXPIRING = "alert.tls_expiring"  # the gateway's certificate does
    ALERT_ANNOUNCEMENT_HELD = "alert.announcement_held"
    ALERT_COPY_HELD = "alert.copy_held"
    ALERT_DELIVERY_BOUNCED = "alert.delivery_bounced"
    ALERT_DELIVERY_FAILED = "alert.delivery_failed"
    ALERT_DELIVERY_OVERDUE = "alert.delivery_overdue"
    ALERT_EMBARGO_NO_HOLDERS = "alert.embargo_no_holders"
    ALERT_EMBARGO_UNCONFIRMED = "alert.embargo_unconfirmed"
    ALERT_INBOUND_WITHHELD = "alert.inbound_withheld"
    ALERT_OCAM_REMINDER = "alert.ocam_reminder"
    ALERT_OVERDUE = "alert.overdue"
    ALERT_RECEIPT_HELD = "alert.receipt_held"
    ALERT_REMINDER_HELD = "alert.reminder_held"
    ALERT_REQUEST_HELD = "alert.request_held"
    ALERT_REQUEST_UNACKNOWLEDGED = "alert.request_unacknowledged"
    ALERT_WITNESS_UNREACHABLE = "alert.witness_unreachable"
    AUDIT_LISTED = "audit.listed"
    COPY_WITHHELD = "copy.withheld"
    EMBARGO_CONFIRMED = "embargo.confirmed"
    EMBARGO_DECISION_PROPOSED = "embargo.decision_proposed"
    EMBARGO_DECISION_RECORDED = "embargo.decision_recorded"
    EMBARGO_DECISION_SIGNED = "embargo.decision_signed"
    EMBARGO_OPEN_REFUSED = "embargo.open_refused"
    EMBARGO_OPENED = "embargo.opened"  # a holder opened an embargoed item (every opening recorded)
    EMBARGO_OPENED_FOR_RESEAL = "embargo.opened_for_reseal"
    EMBARGO_RESEALED = "embargo.resealed"
    EMBARGO_SEALED = "embargo.sealed"
    EVALUATION_CREATED = "evaluation.created"
    EVALUATION_EXCLUDED = "evaluation.excluded"
    HOLDERS_CHANGED = "holders.changed"
    HUB_BACKED_UP = "hub.backed_up"
    HUB_INITIALISED = "hub.initialised"
    HUB_RESTORED = "hub.restored"
    INBOUND_UNROUTED = "inbound.unrouted"
    INTAKE_FIELD_CONFLICT = "intake.field_conflict"
    INTAKE_QUARANTINED = "intake.quarantined"
    MEMBER_ADDED = "member.added"
    MESSAGE_OPENED = "message.opened"
    OVERSIGHT_EXPORTED = "oversight.exported"
    PARTNER_ADDED = "partner.added"
    PARTNER_CHANGED = "partner.changed"
    PARTNER_KEY_UPDATED = "partner.key_updated"
    PARTNER_KIT_WRITTEN = "partner.kit_written"
    RECEIPT_RELEASED = "receipt.released"
    RECIPIENT_ADDED = "recipient.added"
    REMINDER_QUEUED = "reminder.queued"
    REMINDER_SKIPPED = "reminder.skipped"
    REQUEST_ACKNOWLEDGED = "request.acknowledged"
    REQUEST_ANSWERED = "request.answered"
    REQUEST_CREATED = "request.created"
    REQUEST_DSN_UNMATCHED = "request.dsn_unmatched"
    REQUEST_IMMEDIATE = "request.immediate"
    REQUEST_RELEASED = "request.released"
    RESPONSE_LINKED = "response.linked"
    RETENTION_ERASED = "retention.erased"
    RETENTION_PERIOD_KEY_DESTROYED = "retention.period_key_destroyed"
    RETENTION_REVIEWED = "retention.reviewed"
    RETENTION_TRIGGERED = "retention.triggered"
    TLS_INSTALLED = "tls.installed"
    TRANSPORT_DEAD_LETTERED = "transport.dead_lettered"
    ACCESS_REFUSED = "access.refused"  # an act refused by the competence rule (its own transaction)
    HUB_KEY_ROTATED = "hub.key_rotated"
    HUB_KEY_RETIRED = "hub.key_retired"
    DEADLINE_NONE = "deadline.none"  # a message that starts no clock
    RESPONSE_FLAGGED = "response.flagged"  # a response to no known request, for a person to look at
    # The delivery stage names its events "<purpose>.sent" and "<purpose>.deferred"; the receipt's are read
    # by name (the dashboard's benchmark):
    RECEIPT_SENT = "receipt.sent"
    RECEIPT_DEFERRED = "receipt.deferred"


ALERT_PREFIX = "alert."  # every alert's action starts so: the dashboard's and `duty alerts`' list
