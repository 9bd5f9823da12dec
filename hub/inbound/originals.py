"""The partner's original of a stored inbound message, as a member's own client verifies it: the bytes received
when the partner only signed; for a message encrypted to the hub, its decrypted signed entity exactly as signed."""

from __future__ import annotations

from dataclasses import dataclass

from crypto import Gpg, StorageKey, analyse, analyse_inner
from crypto.errors import PacketError
from crypto.mime.original import outer_headers, split
from store import Message, UnitOfWork

from hub.errors import MessageNotFound
from hub.vault import unseal

AS_RECEIVED = "as received"
DECRYPTED_SIGNED = "decrypted; the partner's multipart/signed entity as signed"
REASSEMBLED = "decrypted; the partner's signature, made inside the encryption, beside the data it signs"
UNVERIFIABLE = ("decrypted; the partner signed inside the encryption over line ends mail changes: the hub "
                "verified that signature at reception, a mail client cannot check it again")


@dataclass(frozen=True)
class Original:
    data: bytes  # an RFC 5322 message
    how: str  # one of the sentences above

    @property
    def verifiable(self) -> bool:
        """Whether the member's client can check the partner's signature over it."""
        return self.how != UNVERIFIABLE


def stored_bytes(uow: UnitOfWork, key: StorageKey, message: Message) -> bytes:
    """A message's bytes as the hub keeps them, unsealed (SealError if altered or destroyed)."""
    blob = uow.blobs.get(message.raw_blob_id) if message.raw_blob_id is not None else None
    if blob is None:
        raise MessageNotFound(f"{message.reference} keeps no content the hub can open")
    return unseal(key, blob, context=f"message:{message.reference}")


def original(gpg: Gpg, raw: bytes, *, encrypted: bool, limit: int) -> Original:
    """The original of an accepted message (*raw* as received). Raises crypto's DecryptionFailed or
    PacketError when an encrypted one cannot be opened or taken apart again (the hub's key changed)."""
    if not encrypted:
        return Original(raw, AS_RECEIVED)
    envelope = analyse(raw)
    signed = split(gpg.unwrap(envelope.ciphertext or b""), limit=limit)
    head = outer_headers(raw)
    if not signed.signatures:  # signed, then encrypted: the decrypted entity is the multipart/signed
        if analyse_inner(signed.data) is None:
            raise PacketError("the decrypted entity is not multipart/signed")
        return Original(head + signed.data, DECRYPTED_SIGNED)
    if not signed.survives_mail():
        return Original(head + signed.data, UNVERIFIABLE)
    return Original(head + signed.as_multipart_signed(), REASSEMBLED)
