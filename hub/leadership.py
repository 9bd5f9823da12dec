"""Run a role (the scheduler) only while this process holds its leadership; try again every few seconds."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from typing import Awaitable, Callable

from store import LeaderLock

log = logging.getLogger(__name__)


async def while_leading(lock: LeaderLock, role: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event,
                        executor: Executor, *, retry_seconds: float = 2.0) -> None:
    """Until *stop*: acquire *lock* (retrying every *retry_seconds*), run *role* while it is held, and stop
    the role as soon as the lock is found lost (checked every *retry_seconds*)."""
    loop = asyncio.get_running_loop()
    try:
        while not stop.is_set():
            if not await loop.run_in_executor(executor, lock.try_acquire):
                await _sleep(stop, retry_seconds)
                continue
            log.info("leader %s: acquired; running", lock.name)
            lost = asyncio.Event()
            role_task = asyncio.create_task(role(lost))
            while not role_task.done():
                await _sleep(stop, retry_seconds)
                if stop.is_set() or not await loop.run_in_executor(executor, lock.alive):
                    lost.set()
                    break
            await asyncio.gather(role_task, return_exceptions=True)
            if not stop.is_set():
                log.warning("leader %s: leadership lost; trying again", lock.name)
                await loop.run_in_executor(executor, lock.release)
    finally:
        await loop.run_in_executor(executor, lock.release)


async def keep_holding(lock: LeaderLock, stop: asyncio.Event, executor: Executor, *, why: str,
                       retry_seconds: float = 2.0) -> None:
    """Until *stop*, keep *lock*, taken before: when it is found lost (on PostgreSQL it lives as long as one
    session, which a database restart ends), take it again; if another process took it meanwhile, say so
    (*why* it matters), once, and keep trying."""
    loop = asyncio.get_running_loop()
    warned = False
    while not stop.is_set():
        await _sleep(stop, retry_seconds)
        if stop.is_set() or await loop.run_in_executor(executor, lock.alive):
            continue
        if await loop.run_in_executor(executor, lock.try_acquire):
            log.warning("lock %s: lost with the store's session; taken again", lock.name)
            warned = False
        elif not warned:
            log.error("lock %s: lost with the store's session and not taken again (another process holds it, "
                      "or the store is away): %s", lock.name, why)
            warned = True


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
