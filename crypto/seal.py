"""Sealing at rest: per-item AES-256-GCM data keys wrapped by a wrapping key, itself wrapped by the storage key
(or, for items sealed before wrapping keys, by the storage key directly)."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from crypto.errors import SealError

_MAGIC = "passerelle-storage-key v1 "


@dataclass(frozen=True)
class Sealed:
    """One sealed item. Deleting ``wrapped_key`` crypto-shreds it."""

    key_id: str
    wrapped_key: bytes  # the item's 256-bit data key, AES key wrap (RFC 3394) under the key that sealed it
    nonce: bytes        # 96-bit AES-GCM nonce
    ciphertext: bytes   # AES-256-GCM ciphertext with its 16-byte tag


class _KeyEncryptionKey:
    """A 256-bit key that wraps data keys (RFC 3394) and seals items under them."""

    key_id: str

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise ValueError("a key-encryption key is 32 bytes")
        self._secret = secret

    def seal(self, plaintext: bytes, *, aad: bytes = b"") -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(12)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, aad)
        return Sealed(self.key_id, aes_key_wrap(self._secret, data_key), nonce, ciphertext)

    def unseal(self, sealed: Sealed, *, aad: bytes = b"") -> bytes:
        if sealed.key_id != self.key_id:
            raise SealError(f"item sealed under key {sealed.key_id}, not {self.key_id}")
        try:
            data_key = aes_key_unwrap(self._secret, sealed.wrapped_key)
            return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, aad)
        except (InvalidUnwrap, InvalidTag, ValueError) as exc:
            raise SealError("sealed item failed its integrity check (tampered, or wrong key)") from exc


class WrappingKey(_KeyEncryptionKey):
    """A key between the storage key and the data keys (one per retention period): it exists only wrapped
    under the storage key, so destroying that wrapped form shreds every item sealed under it at once."""

    def __init__(self, secret: bytes, key_id: str) -> None:
        super().__init__(secret)
        self.key_id = key_id  # the storage key it rests under: items keep naming the key that opens them

    def __repr__(self) -> str:
        return f"WrappingKey(under={self.key_id!r})"


class StorageKey(_KeyEncryptionKey):
    """A 256-bit key-encryption key, kept in a 0600 file; never logged, never in records."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise ValueError("a storage key is 32 bytes")
        super().__init__(secret)
        self.key_id = hashlib.sha256(b"passerelle-storage-key-id\0" + secret).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"StorageKey(key_id={self.key_id!r})"

    @classmethod
    def generate(cls) -> "StorageKey":
        return cls(secrets.token_bytes(32))

    @classmethod
    def load(cls, path: Path) -> "StorageKey":
        """Read a key file; refuse one that group or others could read or write."""
        path = Path(path)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SealError(f"{path}: storage key file has mode {mode:04o}; it must be 0600 or stricter")
        text = path.read_text("ascii").strip()
        if not text.startswith(_MAGIC):
            raise SealError(f"{path}: not a Passerelle storage key file")
        try:
            return cls(base64.b64decode(text[len(_MAGIC):], validate=True))
        except (ValueError, TypeError) as exc:
            raise SealError(f"{path}: storage key file is damaged") from exc

    def save(self, path: Path) -> None:
        """Write the key with mode 0600, atomically; refuse to overwrite an existing file."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(_MAGIC + base64.b64encode(self._secret).decode() + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, path)  # fails if path exists: no overwrite, no partial file
        except FileExistsError as exc:
            raise SealError(f"{path}: refusing to overwrite an existing storage key") from exc
        finally:
            os.unlink(tmp)

    def new_wrapping_key(self) -> tuple[WrappingKey, bytes]:
        """A fresh wrapping key and its form wrapped under this storage key (the only form to keep)."""
        secret = secrets.token_bytes(32)
        return WrappingKey(secret, self.key_id), aes_key_wrap(self._secret, secret)

    def wrapping_key(self, wrapped: bytes) -> WrappingKey:
        """Unwrap a wrapping key kept under this storage key; raises SealError if it is not one."""
        try:
            return WrappingKey(aes_key_unwrap(self._secret, wrapped), self.key_id)
        except (InvalidUnwrap, ValueError) as exc:
            raise SealError("a wrapping key failed its integrity check (tampered, or another storage key)") from exc
