"""Sealing bytes at rest into the store, under the wrapping key of the month they are sealed in, itself wrapped by
the storage key; and opening them again (the month's key is what retention destroys when the month is empty)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from crypto import Sealed, SealError, StorageKey, WrappingKey
from store import SealedBlob, UnitOfWork


def period_of(moment: datetime) -> str:
    """The retention period of a blob sealed at *moment*: its calendar month, UTC (YYYY-MM)."""
    return f"{moment.year:04d}-{moment.month:02d}"


@dataclass(frozen=True)
class _Held:
    """The key of the period this process seals into now, as the store had it: its row, its wrapped form."""

    name: str
    period_id: int
    wrapped: bytes
    key: WrappingKey


# By storage key: the current period's key, the only one a process keeps (a month not over is never destroyed,
# hub/retention/shred.py; the month before is dropped from memory at the first seal of the next).
_held: dict[str, _Held] = {}
_HELD_LIMIT = 64  # storage keys (one per hub; tests make many)


def _period(uow: UnitOfWork, key: StorageKey, name: str, *, now: datetime) -> _Held:
    """Period *name*'s key, made on first use (a concurrent writer's, if it made it first)."""
    row = uow.retention.period(name)
    if row is None:
        _key, wrapped = key.new_wrapping_key()
        uow.retention.add_period(name, key_id=key.key_id, wrapped_key=wrapped, now=now)
        row = uow.retention.period(name)
    if row.wrapped_key is None:  # only a period over and empty is destroyed (hub/retention/shred.py)
        raise SealError(f"the key of period {name} was destroyed; nothing can be sealed under it")
    return _Held(name, row.id, bytes(row.wrapped_key), key.wrapping_key(row.wrapped_key))


def period_key(uow: UnitOfWork, key: StorageKey, name: str, *, now: datetime) -> tuple[int, WrappingKey]:
    """(id, key) of period *name*, made on first use (a concurrent writer's, if it made it first)."""
    held = _period(uow, key, name, now=now)
    return held.period_id, held.key


def seal(uow: UnitOfWork, key: StorageKey, data: bytes, *, now: datetime, context: str) -> int:
    """Seal *data* under a fresh data key (*context* bound as associated data); returns the blob's id.

    The period's key is read once per process and month: the blob is inserted under it only if the period's row
    still holds that key when the insert runs (one statement); otherwise the key is read again, as the first
    time (made, or refused if destroyed)."""
    name = period_of(now)
    held = _held.get(key.key_id)
    if held is not None and held.name == name:
        sealed = held.key.seal(data, aad=context.encode())
        blob_id = uow.blobs.add_under(key_id=sealed.key_id, wrapped_key=sealed.wrapped_key, nonce=sealed.nonce,
                                      ciphertext=sealed.ciphertext, now=now, period_id=held.period_id,
                                      period_key=held.wrapped)
        if blob_id is not None:
            return blob_id
    _held.pop(key.key_id, None)
    held = _period(uow, key, name, now=now)
    sealed = held.key.seal(data, aad=context.encode())
    blob_id = uow.blobs.add(key_id=sealed.key_id, wrapped_key=sealed.wrapped_key, nonce=sealed.nonce,
                            ciphertext=sealed.ciphertext, now=now, period_id=held.period_id)
    if len(_held) >= _HELD_LIMIT:
        _held.clear()
    _held[key.key_id] = held
    return blob_id


class SealedFields(Protocol):
    """A sealed blob's columns and its period's wrapped key: the ORM row, or a Core row that selected them."""

    key_id: str
    wrapped_key: bytes | None
    nonce: bytes
    ciphertext: bytes
    period_id: int | None
    period_key: bytes | None


def unseal(key: StorageKey, blob: SealedBlob | SealedFields, *, context: str) -> bytes:
    """Open a sealed blob; raises crypto's SealError if it was altered or shredded (its key, or its period's)."""
    if blob.wrapped_key is None:
        raise SealError("this item was destroyed (its data key is gone)")
    if blob.period_id is None:
        opener: StorageKey | WrappingKey = key  # sealed before period keys (store revision 0010)
    elif blob.period_key is None:
        raise SealError("this item was destroyed (the key of its retention period is gone)")
    else:
        opener = key.wrapping_key(blob.period_key)
    sealed = Sealed(key_id=blob.key_id, wrapped_key=blob.wrapped_key, nonce=blob.nonce, ciphertext=blob.ciphertext)
    return opener.unseal(sealed, aad=context.encode())
