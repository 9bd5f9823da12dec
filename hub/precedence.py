"""FLASH before the rest inside one process: while a FLASH batch is in hand, the other workers pause between two
of their items (bounded), so that the FLASH work gets the interpreter and the store's write lock instead of
sharing them with every busy worker (Python threads have no priorities)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


class Precedence:
    """Counts the urgent batches in hand; a worker thread marked as giving way waits at its pause points while
    one is (at most *most_seconds* each time: a FLASH batch stuck on a slow relay holds nobody up for long)."""

    def __init__(self, most_seconds: float = 0.2) -> None:
        self.most_seconds = most_seconds
        self._lock = threading.Lock()
        self._in_hand = 0
        self._clear = threading.Event()
        self._clear.set()
        self._local = threading.local()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Around the handling of an urgent batch."""
        with self._lock:
            self._in_hand += 1
            self._clear.clear()
        try:
            yield
        finally:
            with self._lock:
                self._in_hand -= 1
                if self._in_hand == 0:
                    self._clear.set()

    @contextmanager
    def giving_way(self) -> Iterator[None]:
        """Around the handling of a batch that gives way (this thread's pause points wait)."""
        self._local.gives_way = True
        try:
            yield
        finally:
            self._local.gives_way = False

    def pause_point(self) -> None:
        """Between two items, outside any transaction: wait while an urgent batch is in hand, if this thread
        gives way."""
        if getattr(self._local, "gives_way", False) and not self._clear.is_set():
            self._clear.wait(self.most_seconds)


NONE = Precedence(most_seconds=0.0)  # a handler run outside a runner: nothing gives way
