"""Erasure by crypto-shredding (law Art. 10/2 §2; AR Art. 5 §4): an item's data keys and ciphertexts are destroyed,
its embargo ciphertext deleted, the key of a period left empty destroyed; the erasure is itself an audit event,
which keeps what existed (reference, digests, times) and never the content."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from store import Message, RetentionItem, UnitOfWork
from store.retention import Shredded
from store.vocabulary import Action, RetentionState

from hub import audit
from hub.clock import Clock
from hub.vault import period_of

log = logging.getLogger(__name__)

# A period's key is destroyed only once the period is over (no process seals into it any more) by this much,
# whatever the processes' clocks: a key destroyed while another process was sealing into it would lose that blob.
PERIOD_GRACE = timedelta(days=1)
UNSENT = "erased before it was sent (retention, law Art. 10/2)"


def erase(uow: UnitOfWork, clock: Clock, item: RetentionItem, message: Message, *, by: str, basis: str,
          statement_digest: str | None = None) -> Shredded:
    """Destroy what the store holds of *message*'s content and record it; the caller commits."""
    embargo = uow.embargo.for_message(message.id)
    shredded = uow.retention.shred(message, why=UNSENT)
    now = clock.now()
    item.state, item.erased_at, item.erased_by = RetentionState.ERASED, now, by
    item.review_at = item.triggered_at = None
    detail = {"basis": basis, "sha256": message.body_digest, "intake_at": item.intake_at.isoformat(),
              "end_at": item.end_at.isoformat(), "blobs": shredded.blobs, "unsent_copies": shredded.unsent,
              "clock_stopped": shredded.clock_stopped}
    if embargo is not None:
        detail |= {"embargo": embargo.kind, "embargo_sha256": embargo.content_digest}
    if statement_digest is not None:
        detail["statement"] = statement_digest
    audit.record(uow, clock, Action.RETENTION_ERASED, actor=by, ref=message.reference, **detail)
    log.info("retention: %s erased (%s): %d blob(s)%s", message.reference, basis, shredded.blobs,
             ", embargo ciphertext" if shredded.embargo else "")
    destroy_empty_periods(uow, clock)
    return shredded


def last_closed_period(now: datetime) -> str:
    """The latest period that is over (by PERIOD_GRACE): the month before the month of now - PERIOD_GRACE."""
    first_of_month = (now - PERIOD_GRACE).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return period_of(first_of_month - timedelta(days=1))


def destroy_empty_periods(uow: UnitOfWork, clock: Clock) -> list[str]:
    """Destroy the key of every period that is over and whose blobs are all shredded; each is recorded."""
    names = uow.retention.destroy_empty_periods(through=last_closed_period(clock.now()), now=clock.now())
    for name in names:
        audit.record(uow, clock, Action.RETENTION_PERIOD_KEY_DESTROYED, period=name)
        log.info("retention: the key of period %s is destroyed (none of its blobs is held any more)", name)
    return names
