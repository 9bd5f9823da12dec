"""The retention repository: period keys, items and their dates, signed acts, and shredding what an item holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import Row, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .. import statements as S
from ..embargo.models import EmbargoItem
from ..models import Deadline, Message, OutboundMail, RetentionPeriod, SealedBlob
from ..repositories import _Repository
from ..vocabulary import DeliveryState, RetentionState
from .models import RetentionAct, RetentionItem

_p = RetentionPeriod.__table__.c
_b = SealedBlob.__table__.c
ITEM_INSERT = insert(RetentionItem.__table__)  # every message's, in the gateway's transaction: prebuilt


@dataclass(frozen=True)
class Shredded:
    """What one item's erasure destroyed."""

    blobs: int  # sealed blobs whose data key (and ciphertext) went
    periods: frozenset[int]  # the periods those blobs were sealed in
    embargo: bool  # an embargo item's ciphertext went
    unsent: int  # copies still waiting for the relay, given up
    clock_stopped: bool  # its open deadline takes no more actions (no reminder is sealed for it any more)


class RetentionRepository(_Repository):
    # -- the wrapping key of each period ------------------------------------------------------------

    def period(self, name: str) -> Row | None:
        """(id, wrapped_key) of period *name*; wrapped_key is None once destroyed (hot path: every seal, Core)."""
        return self._core(S.PERIOD_KEY, {"b_name": name}).first()

    def add_period(self, name: str, *, key_id: str, wrapped_key: bytes, now: datetime) -> None:
        """Insert period *name* unless a concurrent writer did (then its key is the one kept)."""
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        self.session.execute(dialect.insert(RetentionPeriod.__table__)
                             .values(name=name, key_id=key_id, wrapped_key=wrapped_key, created_at=now)
                             .on_conflict_do_nothing(index_elements=["name"]))

    def destroy_empty_periods(self, *, through: str, now: datetime) -> list[str]:
        """Destroy the key of every period up to *through* (YYYY-MM) that no longer holds a live blob."""
        live = exists().where(_b.period_id == _p.id, _b.wrapped_key.is_not(None))
        names = list(self.session.scalars(select(_p.name).where(_p.wrapped_key.is_not(None), _p.name <= through,
                                                                ~live).order_by(_p.name)))
        if names:
            self.session.execute(update(RetentionPeriod).where(_p.name.in_(names))
                                 .values(wrapped_key=None, destroyed_at=now))
        return names

    def periods(self) -> Sequence[RetentionPeriod]:
        return self.session.scalars(select(RetentionPeriod).order_by(RetentionPeriod.name)).all()

    # -- items and their dates ----------------------------------------------------------------------

    def add_item(self, *, message_id: int, intake_at: datetime, review_at: datetime | None, end_at: datetime) -> None:
        self._core(ITEM_INSERT, dict(message_id=message_id, intake_at=intake_at, review_at=review_at, end_at=end_at,
                                     state=RetentionState.HELD))

    def item_of(self, reference: str, *, for_update: bool = False) -> tuple[RetentionItem, Message] | None:
        """The item of *reference* and its message; *for_update* locks the item until the transaction ends (on
        PostgreSQL: a decision and the 50-year sweep never erase it twice)."""
        query = (select(RetentionItem, Message).join(Message, Message.id == RetentionItem.message_id)
                 .where(Message.reference == reference))
        if for_update:
            query = query.with_for_update(of=RetentionItem)
        found = self.session.execute(query).first()
        return (found[0], found[1]) if found else None

    def for_message(self, message_id: int) -> RetentionItem | None:
        return self.session.scalar(select(RetentionItem).where(RetentionItem.message_id == message_id))

    def held(self, *, due_before: datetime | None = None, limit: int = 1000) -> list[tuple[RetentionItem, str]]:
        """Held items with their reference, the soonest due first; with *due_before*, only those whose review
        (ordinary or triggered) or end comes before it."""
        due = func.coalesce(RetentionItem.triggered_at, RetentionItem.review_at, RetentionItem.end_at)
        query = (select(RetentionItem, Message.reference).join(Message, Message.id == RetentionItem.message_id)
                 .where(RetentionItem.state == RetentionState.HELD))
        if due_before is not None:
            query = query.where(or_(RetentionItem.triggered_at.is_not(None), RetentionItem.review_at < due_before,
                                    RetentionItem.end_at < due_before))
        return [(i, r) for i, r in self.session.execute(query.order_by(due, RetentionItem.id).limit(limit))]

    def ending(self, now: datetime, *, limit: int) -> list[tuple[RetentionItem, Message]]:
        """Held items whose end has come, oldest end first (index on state, end_at), locked; one a decision holds
        is left for the next round."""
        query = (select(RetentionItem, Message).join(Message, Message.id == RetentionItem.message_id)
                 .where(RetentionItem.state == RetentionState.HELD, RetentionItem.end_at <= now)
                 .order_by(RetentionItem.end_at).limit(limit).with_for_update(of=RetentionItem, skip_locked=True))
        return [(i, m) for i, m in self.session.execute(query)]

    def next_end(self) -> datetime | None:
        return self.session.scalar(
            select(func.min(RetentionItem.end_at)).where(RetentionItem.state == RetentionState.HELD))

    # -- signed acts --------------------------------------------------------------------------------

    def add_act(self, act: RetentionAct) -> RetentionAct:
        self.session.add(act)
        self.session.flush()
        return act

    def act_by_digest(self, digest: str) -> RetentionAct | None:
        return self.session.scalar(select(RetentionAct).where(RetentionAct.statement_digest == digest))

    def acts(self, item_id: int) -> Sequence[RetentionAct]:
        return self.session.scalars(select(RetentionAct).where(RetentionAct.item_id == item_id)
                                    .order_by(RetentionAct.id)).all()

    # -- shredding ----------------------------------------------------------------------------------

    def shred(self, message: Message, *, why: str) -> Shredded:
        """Destroy what the store holds of *message*'s content: the data key and ciphertext of its sealed bytes
        and of every copy sent for it, and its embargo item's ciphertext; copies not yet sent (pending or held) are
        given up, and its deadline (still open, as it was) takes no more actions."""
        copies = select(OutboundMail.blob_id).where(OutboundMail.message_id == message.id)
        blob_ids = [*([message.raw_blob_id] if message.raw_blob_id else []), *self.session.scalars(copies)]
        periods = frozenset(p for p in self.session.scalars(
            select(_b.period_id).where(_b.id.in_(blob_ids), _b.period_id.is_not(None)).distinct()))
        blobs = self.session.execute(update(SealedBlob).where(_b.id.in_(blob_ids), _b.wrapped_key.is_not(None))
                                     .values(wrapped_key=None, nonce=b"", ciphertext=b"")).rowcount
        unsent = self.session.execute(update(OutboundMail).where(OutboundMail.message_id == message.id,
                                                                 OutboundMail.state.in_((DeliveryState.PENDING,
                                                                                         DeliveryState.HELD)))
                                      .values(state=DeliveryState.FAILED, last_error=why)).rowcount
        embargo = self.session.execute(update(EmbargoItem).where(EmbargoItem.message_id == message.id,
                                                                 EmbargoItem.ciphertext != b"")
                                       .values(ciphertext=b"")).rowcount
        stopped = self.session.execute(update(Deadline).where(Deadline.message_id == message.id,
                                                              Deadline.next_action_at.is_not(None))
                                       .values(next_action_at=None)).rowcount
        return Shredded(blobs, periods, bool(embargo), unsent, bool(stopped))
