"""Sealing bytes at rest into the store with the storage key, and opening them again."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from crypto import Sealed, StorageKey
from store import SealedBlob, UnitOfWork


def seal(uow: UnitOfWork, key: StorageKey, data: bytes, *, now: datetime, context: str) -> int:
    """Seal *data* under a fresh data key (*context* bound as associated data); returns the blob's id."""
    sealed = key.seal(data, aad=context.encode())
    return uow.blobs.add(key_id=sealed.key_id, wrapped_key=sealed.wrapped_key, nonce=sealed.nonce,
                         ciphertext=sealed.ciphertext, now=now)


class SealedFields(Protocol):
    """A sealed blob's columns: the ORM row, or a Core row that selected them."""

    key_id: str
    wrapped_key: bytes | None
    nonce: bytes
    ciphertext: bytes


def unseal(key: StorageKey, blob: SealedBlob | SealedFields, *, context: str) -> bytes:
    """Open a sealed blob; raises crypto's SealError if it was altered or shredded."""
    if blob.wrapped_key is None:
        from crypto import SealError

        raise SealError("this item was destroyed (its data key is gone)")
    sealed = Sealed(key_id=blob.key_id, wrapped_key=blob.wrapped_key, nonce=blob.nonce, ciphertext=blob.ciphertext)
    return key.unseal(sealed, aad=context.encode())
