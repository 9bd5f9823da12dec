"""The words the store's rows hold, in one place for every side of the store (hub, tui): queue names and the
audit actions more than one module writes or reads."""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    """The stages items travel between (the queue table's `queue`, the broker's queue names)."""

    INTAKE = "intake"      # an accepted message, for the intake pipeline
    OUTBOUND = "outbound"  # a mail for the relay


class Action(StrEnum):
    """Audit actions (the audit log's `action`)."""

    ALERT_ACKNOWLEDGED = "operator.alert_acknowledged"
    REQUEUED = "operator.requeued"
    DELIVERY_RETRIED = "operator.delivery_retried"


ALERT_PREFIX = "alert."  # every alert's action starts so: the dashboard's and `duty alerts`' list
