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


ALERT_PREFIX = "alert."  # every alert's action starts so: the dashboard's and `duty alerts`' list
