"""Retention's automatic part, run by the scheduler's leader: at 50 years an item is erased without a decision
(law Art. 10/2 §1-2; AR Art. 5), the key of a period over and empty is destroyed, and the keys of this month and
the next are made ahead of the writers that will seal under them."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from crypto import StorageKey
from store import Database

from hub.clock import Clock
from hub.vault import period_key, period_of
from . import shred

log = logging.getLogger(__name__)

BASIS = "law Art. 10/2 §1-2: 50 years after intake"


class RetentionSweep:
    """One tick erases every item whose end has come (in batches) and destroys the keys it left unused."""

    def __init__(self, *, db: Database, clock: Clock, storage_key: StorageKey, batch: int = 100) -> None:
        self.db = db
        self.clock = clock
        self.storage_key = storage_key
        self.batch = batch
        self._periods_made: set[str] = set()  # periods are never deleted: once seen, always there
        self._closed_through: str | None = None  # the last closed period whose empty keys were looked for

    def tick(self) -> int:
        """Returns how many items were erased."""
        now = self.clock.now()
        self._make_periods(now)
        erased = 0
        with self.db.reader() as uow:
            first_end = uow.retention.next_end()
        while first_end is not None and first_end <= now:  # a write transaction only when an end has come
            with self.db.unit_of_work() as uow:
                ending = uow.retention.ending(self.clock.now(), limit=self.batch)
                for item, message in ending:
                    shred.erase(uow, self.clock, item, message, by="hub", basis=BASIS)
                uow.commit()
            erased += len(ending)
            if len(ending) < self.batch:
                break
        closed = shred.last_closed_period(now)
        if closed != self._closed_through:  # a period just closed may have been emptied early
            with self.db.unit_of_work() as uow:
                shred.destroy_empty_periods(uow, self.clock)
                uow.commit()
            self._closed_through = closed
        if erased and not self.db.checkpoint():
            log.warning("retention: %d item(s) erased; a reader kept the write-ahead log from being truncated, "
                        "it will be at the next erasure", erased)
        return erased

    def _make_periods(self, now: datetime) -> None:
        """This month's and the next month's keys, each in a short transaction of its own: a writer's first seal
        of a month then never makes one inside its own transaction."""
        for name in (period_of(now), period_of(now.replace(day=1) + timedelta(days=32))):
            if name in self._periods_made:
                continue
            with self.db.unit_of_work() as uow:
                period_key(uow, self.storage_key, name, now=now)
                uow.commit()
            self._periods_made.add(name)
