"""Opening a message's stored content (its sealed bytes as received or sent) for a named operator: every opening
is an access record (AR Art. 6 §4), written before the content is handed out; an erased item opens for nobody."""

from __future__ import annotations

from crypto import SealError, StorageKey
from store import UnitOfWork

from hub import audit, vault
from hub.clock import Clock
from hub.errors import MessageNotFound, NotActionable, RetentionError
from hub.retention.items import erased_sentence


def open_message(uow: UnitOfWork, clock: Clock, key: StorageKey, *, reference: str, actor: str) -> bytes:
    """The bytes kept for *reference*; the opening is recorded in *uow* (the caller commits before showing them)."""
    message = uow.messages.by_reference(reference)
    if message is None:
        raise MessageNotFound(f"no message {reference}")
    item = uow.retention.for_message(message.id)
    if item is not None and item.state == "erased":
        raise RetentionError(erased_sentence(item, reference))
    if message.embargo:
        raise NotActionable(f"{reference} is embargoed: it is kept only sealed to its holders, whose own keys "
                             f"open it (passerelle embargo open {reference} --key-home DIR)")
    if message.raw_blob_id is None:
        raise NotActionable(f"{reference}: the hub keeps no copy of its content")
    try:
        content = vault.unseal(key, uow.blobs.get(message.raw_blob_id), context=f"message:{reference}")
    except SealError as exc:
        raise NotActionable(f"{reference}: its stored content cannot be opened ({exc})") from exc
    audit.record(uow, clock, "message.opened", actor=actor, ref=reference, size=len(content), basis="AR Art. 6 §4")
    return content
