"""The words the store's rows hold, in one place for every side of the store (hub, tui): urgencies, message and
embargo kinds, queue names and the audit actions more than one module writes or reads."""

from __future__ import annotations

from enum import StrEnum

URGENCIES = ("FLASH", "URGENT", "ROUTINE", "NON-URGENT")  # most urgent first (AR Art. 11 §3)
MESSAGE_KINDS = ("request", "response", "spontaneous")  # what a partner's message is (its Message-Kind)
EMBARGO_KINDS = ("judicial", "foreign")  # law Art. 11 (the Federal Prosecutor's) and Art. 12 (a foreign service's)


class Queue(StrEnum):
    """The stages items travel between (the queue table's `queue`, the broker's queue names)."""

    INTAKE = "intake"      # an accepted message, for the intake pipeline
    OUTBOUND = "outbound"  # a mail for the relay


class Action(StrEnum):
    """Audit actions (the audit log's `action`)."""

    ALERT_ACKNOWLEDGED = "operator.alert_acknowledged"
    REQUEUED = "operator.requeued"
    DELIVERY_RETRIED = "operator.delivery_retried"
    INTAKE_ACCEPTED = "intake.accepted"  # the 250: the event a receipt proves (reference, digest, times)
    LOG_INCONSISTENT = "alert.log_inconsistent"  # the stored log no longer gives a checkpoint it signed
    LOG_FORK = "alert.log_fork"  # two checkpoints of one size, or one inconsistent with a cosigned one
    WITNESS_REQUESTED = "witness.requested"  # a checkpoint sent to a witness to cosign
    WITNESS_COSIGNED = "witness.cosigned"  # a witness's cosignature stored
    KEY_EXPIRING = "alert.key_expiring"  # a registered key or the hub's reaches a warning threshold before expiry
    TLS_EXPIRING = "alert.tls_expiring"  # the gateway's certificate does


ALERT_PREFIX = "alert."  # every alert's action starts so: the dashboard's and `duty alerts`' list
