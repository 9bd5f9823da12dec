"""What retention holds of each message: an item registered with its dates at intake, and when its review is due."""

from __future__ import annotations

from datetime import datetime

from store import RetentionItem, UnitOfWork
from store.vocabulary import RetentionState

from hub.clock import brussels

from . import dates


def register(uow: UnitOfWork, message_id: int, intake: datetime) -> None:
    """Date a new message's item, in the transaction that stores the message (law Art. 10/2 §1; AR Art. 5 §1)."""
    uow.retention.add_item(message_id=message_id, intake_at=intake, review_at=dates.reviews(intake)[0],
                           end_at=dates.end(intake))


def review_due(item: RetentionItem) -> datetime | None:
    """When the item's review is (or was) due: an early-review trigger's time (AR Art. 5 §3), or the ordinary
    review's (§2); None when only the end remains and nothing was triggered."""
    times = [t for t in (item.triggered_at, item.review_at) if t is not None]
    return min(times) if times else None


def is_due(item: RetentionItem, now: datetime) -> bool:
    due = review_due(item)
    return item.state == RetentionState.HELD and due is not None and due <= now


def erased_sentence(item: RetentionItem, reference: str) -> str:
    """Why an erased item's content cannot be opened, and what remains of it."""
    how = ("automatically, 50 years after its intake (law Art. 10/2)" if item.erased_by == "hub"
           else f"by the director's decision ({item.erased_by}, AR Art. 5 §4)")
    return (f"{reference}: its content was erased on {brussels(item.erased_at)}, {how}; nothing can open it any "
            f"more. Its record (digests, times, audit trail) remains: passerelle messages show {reference}")
