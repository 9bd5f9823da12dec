"""The audit event API: every step appends one event in the transaction of the state it records."""

from __future__ import annotations

from typing import Any

from store import UnitOfWork

from .clock import Clock

SYSTEM = "hub"


def record(uow: UnitOfWork, clock: Clock, action: str, *, actor: str = SYSTEM, ref: str | None = None,
           **detail: Any) -> None:
    """Append one event: who (*actor*), what (*action* + *detail*), when (the clock), which message (*ref*).

    Never pass content: no bodies, subjects, keys or passphrases — identifiers and verdicts only.
    """
    uow.audit.append(at=clock.now(), actor=actor, action=action, message_ref=ref, detail=detail)
