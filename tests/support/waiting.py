"""Waiting for what the hub does after a test's act, bounded in time: the one polling loop of the suite."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def until(read: Callable[[], T], condition: Callable[[T], bool], seconds: float = 20.0, step: float = 0.05) -> T:
    """Poll *read* until *condition* holds of what it returns or *seconds* pass; return the last read, so that
    the caller's assertion shows what was there when the time ran out."""
    deadline = time.monotonic() + seconds
    got = read()
    while not condition(got) and time.monotonic() < deadline:
        time.sleep(step)
        got = read()
    return got
