"""FLASH before the rest inside one process: while a FLASH batch is in hand, the other workers pause between two
of their items (bounded), so that the FLASH work gets the interpreter instead of sharing it with every busy
worker (Python threads have no priorities), and its transactions take the store's write lock before theirs."""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Callable, ContextManager, Iterator


class Precedence:
    """Counts the urgent batches in hand; a worker thread marked as giving way waits at its pause points while
    one is (at most *most_seconds* each time: a FLASH batch stuck on a slow relay holds nobody up for long).
    *writes_first*: the store's lane ahead (``Database.writes_first``), entered by the urgent work's thread."""

    def __init__(self, most_seconds: float = 0.2,
                 writes_first: Callable[[], ContextManager[None]] = nullcontext) -> None:
        self.most_seconds = most_seconds
        self.first = writes_first
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
            with self.first():
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
