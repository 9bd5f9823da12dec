"""The queue table's repository: the embedded transport's queue, and RabbitMQ's transactional outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import func, select, update

from . import statements as S
from .models import QueueItem
from .repositories import _Repository
from .vocabulary import ItemState

_QUEUE_ROWS_PER_INSERT = 100  # rows of one executemany


class QueueRepository(_Repository):
    """The store-backed queue of the embedded transport: put, claim, ack, retry, quarantine.

    Puts and acks are written together when the unit of work commits or flushes, or before this
    repository does anything else: one multi-row INSERT and one DELETE per transaction, not one each.
    """

    _puts: list[dict[str, Any]] | None = None
    _acks: list[int] | None = None

    def put(self, queue: str, payload: dict[str, Any], *, priority: int, now: datetime,
            available_at: datetime | None = None, state: str = ItemState.READY, attempts: int = 0,
            last_error: str | None = None, created_at: datetime | None = None,
            lease_until: datetime | None = None) -> dict[str, Any]:
        """An item, written with the others of the transaction; *lease_until*: written leased until then (a relay
        that publishes it itself, without claiming it), and given its ``id`` in the returned row when written."""
        if self._puts is None:
            self._puts = []
        row = dict(queue=queue, payload=payload, priority=priority, state=state, available_at=available_at or now,
                   attempts=attempts, last_error=last_error, created_at=created_at or now)
        if lease_until is not None:
            row.update(state=ItemState.LEASED, lease_until=lease_until)
        self._puts.append(row)
        return row

    def write_pending(self) -> None:
        """Write the puts and acks not yet written (puts in order: their ids follow it)."""
        puts, acks, self._puts, self._acks = self._puts, self._acks, None, None
        if puts:
            leased = [p for p in puts if "lease_until" in p]
            self._insert_rows(S.QUEUE_PUT, [p for p in puts if "lease_until" not in p], _QUEUE_ROWS_PER_INSERT)
            if leased:  # their writer needs their ids: one INSERT ... RETURNING, ids in the rows' order
                ids = self.session.connection().execute(S.QUEUE_PUT_RETURNING, leased).scalars().all()
                for row, item_id in zip(leased, ids, strict=True):
                    row["id"] = item_id
        if acks:
            self._core(S.QUEUE_ACK_MANY, {"b_ids": acks})

    def done(self, ids: list[int]) -> None:
        """Remove items (a relay's rows once the broker confirmed them)."""
        self.write_pending()
        if ids:
            self._core(S.QUEUE_ACK_MANY, {"b_ids": ids})

    def release(self, ids: list[int]) -> None:
        """Leased items back to ready at once (a relay's rows the broker did not confirm)."""
        self.write_pending()
        if ids:
            self._core(S.QUEUE_RELEASE, {"b_ids": ids})

    def release_lease(self, ids: list[int], lease_until: datetime) -> int:
        """Those of *ids* still under the lease that ends at *lease_until* (one claim's), back to ready."""
        self.write_pending()
        if not ids:
            return 0
        return self._core(S.QUEUE_RELEASE_LEASE, {"b_ids": ids, "b_lease_until": lease_until}).rowcount

    def claim(self, queue: str, *, now: datetime, lease: timedelta, limit: int = 1, at_least: int = 0,
              one_priority: bool = False) -> list[dict[str, Any]]:
        """Lease up to *limit* of the most urgent ready items of *queue* (highest priority, then oldest), of
        priority *at_least* or more; *one_priority*: only those of the most urgent one's priority."""
        self.write_pending()
        rows = self._core(S.QUEUE_NEXT, {"b_queue": queue, "b_now": now, "b_limit": limit,
                                         "b_at_least": at_least}).all()
        if one_priority and rows:
            rows = [r for r in rows if r.priority == rows[0].priority]
        if rows:
            self._core(S.QUEUE_LEASE, {"b_ids": [r.id for r in rows], "b_lease_until": now + lease})
        return [{**r._mapping, "attempts": r.attempts + 1} for r in rows]

    def any_ready(self, queue: str, *, now: datetime, at_least: int = 0) -> bool:
        """Whether *queue* has an item of priority *at_least* or more to claim now (a read: a reader can ask
        without the write lock)."""
        self.write_pending()
        return self._core(S.QUEUE_ANY_READY, {"b_queue": queue, "b_now": now, "b_at_least": at_least}).first() \
            is not None

    def get(self, item_id: int) -> QueueItem | None:
        self.write_pending()
        return self.session.get(QueueItem, item_id)

    def ack(self, item_id: int) -> None:
        if self._acks is None:
            self._acks = []
        self._acks.append(item_id)

    def retry(self, item_id: int, *, available_at: datetime, error: str | None = None) -> None:
        self.write_pending()
        self._core(S.QUEUE_UPDATE, {"b_id": item_id, "state": ItemState.READY, "available_at": available_at,
                                    "lease_until": None, "last_error": error})

    def quarantine(self, item_id: int, *, error: str) -> None:
        self.write_pending()
        self.session.execute(
            update(QueueItem).where(QueueItem.id == item_id)
            .values(state=ItemState.QUARANTINED, lease_until=None, last_error=error)
        )

    def release_expired(self, *, now: datetime) -> int:
        """Make items whose lease ran out (a worker died) ready again; returns how many."""
        self.write_pending()
        return self._core(S.QUEUE_RELEASE_EXPIRED, {"b_now": now}).rowcount or 0

    def release_all(self) -> int:
        """Embedded start-up: nothing else can hold a lease, so every lease is stale."""
        self.write_pending()
        result = self.session.execute(
            update(QueueItem).where(QueueItem.state == ItemState.LEASED).values(state=ItemState.READY, lease_until=None)
        )
        return result.rowcount or 0

    def next_available_at(self, queue: str, at_least: int = 0) -> datetime | None:
        self.write_pending()
        return self._core(S.QUEUE_NEXT_AVAILABLE, {"b_queue": queue, "b_at_least": at_least}).scalar()

    def depths(self) -> dict[tuple[str, str], int]:
        self.write_pending()
        rows = self.session.execute(
            select(QueueItem.queue, QueueItem.state, func.count(QueueItem.id)).group_by(QueueItem.queue, QueueItem.state)
        )
        return {(q, s): n for q, s, n in rows}

    def quarantined(self) -> Sequence[QueueItem]:
        self.write_pending()
        return self.session.scalars(
            select(QueueItem).where(QueueItem.state == ItemState.QUARANTINED).order_by(QueueItem.id)
        ).all()
