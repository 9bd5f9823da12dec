"""Reading a stored message through the hub: the member's signed act, decided by the competence rule, recorded
with the member's name (message.opened) before the content is handed out (law Art. 9 §3 5° and 7°)."""

from __future__ import annotations

from crypto import Gpg, StorageKey
from store import UnitOfWork
from store.vocabulary import Action, RetentionState

from hub import audit
from hub.acts.competence import may_open, refuse
from hub.acts.signed import MemberHome
from hub.clock import Clock
from hub.errors import MessageNotFound, RetentionError
from hub.retention.items import erased_sentence
from hub.settings import Settings
from .originals import original, stored_bytes

OPEN = "message.open"


def open_message(uow: UnitOfWork, settings: Settings, hub_gpg: Gpg, storage_key: StorageKey, clock: Clock, *,
                 reference: str, by: MemberHome) -> tuple[bytes, str]:
    """The message's content for the member whose home *by* is, and that member's name.

    An inbound message comes out as the partner's original (its signature checkable with the partner's key), one
    of OCAM's own as composed. The opening is recorded in *uow*: the caller commits it before writing the content
    anywhere (a refusal is AccessRefused, recorded where the act was entered: hub.acts.competence.recorded)."""
    message = uow.messages.by_reference(reference)
    if message is None:
        raise MessageNotFound(f"no message {reference}")
    kept = uow.retention.for_message(message.id)
    if kept is not None and kept.state == RetentionState.ERASED:  # crypto-shredded: nobody can open it any more
        raise RetentionError(erased_sentence(kept, reference))
    act = by.sign(uow, clock, OPEN, ref=reference)
    member = act.member
    verdict = may_open(uow, member, message)
    if not verdict.allowed:
        raise refuse(actor=member.name, act=OPEN, ref=reference, why=verdict.why)
    raw = stored_bytes(uow, storage_key, message)
    content = (original(hub_gpg, raw, encrypted=message.encrypted, limit=settings.gateway.max_message_bytes).data
               if message.direction == "inbound" else raw)
    audit.record(uow, clock, Action.MESSAGE_OPENED, actor=member.name, ref=reference, role=member.role,
                 ground=verdict.why, **act.evidence())
    return content, member.name
