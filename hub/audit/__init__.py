"""The audit log (law Art. 9 §3, 7°; AR Art. 6 §4): the event API — one event in the transaction of the state
it records — and, in this room, the Merkle tree over the events, its signed checkpoints, proofs, verification
and witnesses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store import UnitOfWork

from hub.clock import Clock

SYSTEM = "hub"


def record(uow: UnitOfWork, clock: Clock, action: str, *, actor: str = SYSTEM, ref: str | None = None,
           when: datetime | None = None, **detail: Any) -> None:
    """Append one event: who (*actor*), what (*action* + *detail*), when (the clock, or *when*: a time the
    caller took, that the event states), which message (*ref*). It takes its leaf index when the unit of
    work writes it, just before the commit.

    Never pass content: no bodies, subjects, keys or passphrases — identifiers and verdicts only.
    """
    uow.audit.append(at=when or clock.now(), actor=actor, action=action, message_ref=ref, detail=detail)
