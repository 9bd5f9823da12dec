"""Repositories of members, holder lists, sealed embargo items and joint decisions."""

from __future__ import annotations

from typing import Sequence

import hashlib

from sqlalchemy import func, select, text

from .models import EmbargoDecision, EmbargoItem, HolderListVersion, Member
from ..models import Message
from ..repositories import _Repository
from ..vocabulary import DecisionState

# PostgreSQL: a holder-list change and every write of what is sealed to the lists queue on this
# transaction-scoped lock, across processes (SQLite's writers, BEGIN IMMEDIATE, are one at a time already).
_HOLDERS_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(
    key=int.from_bytes(hashlib.sha256(b"passerelle.holder-lists").digest()[:8], "big", signed=True))


class MemberRepository(_Repository):
    def add(self, member: Member) -> Member:
        self.session.add(member)
        return member

    def by_name(self, name: str) -> Member | None:
        return self.session.scalar(select(Member).where(Member.name == name))

    def by_email(self, email: str) -> Member | None:
        return self.session.scalar(select(Member).where(Member.email == email.lower()))

    def by_fingerprint(self, fingerprint: str) -> Member | None:
        return self.session.scalar(select(Member).where(Member.fingerprint == fingerprint.upper()))

    def with_role(self, role: str) -> Sequence[Member]:
        return self.session.scalars(select(Member).where(Member.role == role).order_by(Member.name)).all()

    def all(self) -> Sequence[Member]:
        return self.session.scalars(select(Member).order_by(Member.name)).all()


class HolderRepository(_Repository):
    """Every version of every holder list; the current one is the highest version of its kind."""

    def lock(self) -> None:
        """Hold the holder lists until this transaction ends: what is read of them stays current while the
        transaction seals to them or changes them."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(_HOLDERS_LOCK)

    def current(self, kind: str) -> HolderListVersion | None:
        return self.session.scalar(select(HolderListVersion).where(HolderListVersion.kind == kind)
                                   .order_by(HolderListVersion.version.desc()).limit(1))

    def add(self, version: HolderListVersion) -> HolderListVersion:
        self.session.add(version)
        self.session.flush()
        return version

    def history(self, kind: str | None = None) -> Sequence[HolderListVersion]:
        query = select(HolderListVersion).order_by(HolderListVersion.kind, HolderListVersion.version)
        if kind is not None:
            query = query.where(HolderListVersion.kind == kind)
        return self.session.scalars(query).all()


class EmbargoRepository(_Repository):
    def add(self, item: EmbargoItem) -> EmbargoItem:
        self.session.add(item)
        self.session.flush()
        return item

    def for_message(self, message_id: int) -> EmbargoItem | None:
        return self.session.scalar(select(EmbargoItem).where(EmbargoItem.message_id == message_id))

    def get(self, item_id: int) -> EmbargoItem | None:
        return self.session.get(EmbargoItem, item_id)

    def overwrite(self, item: EmbargoItem, **values: object) -> None:
        """Change an item's sealed content in place. On SQLite the pages its old ciphertext leaves are zeroed
        (secure_delete, on this connection), so once checkpointed (Database.checkpoint) the file keeps no copy."""
        if self.session.get_bind().dialect.name == "sqlite":
            self.session.execute(text("PRAGMA secure_delete = ON"))
        for name, value in values.items():
            setattr(item, name, value)

    def sealed_holders(self, kind: str) -> Sequence[tuple[int, list[dict]]]:
        """(item id, holders it is sealed to) of every item of a kind still held (an erased one has no ciphertext
        left), oldest first, without the ciphertexts."""
        query = (select(EmbargoItem.id, EmbargoItem.holders)
                 .where(EmbargoItem.kind == kind, EmbargoItem.ciphertext != b"").order_by(EmbargoItem.id))
        return [(i, list(h)) for i, h in self.session.execute(query).all()]

    def items(self, limit: int = 500) -> Sequence[tuple[EmbargoItem, Message]]:
        """Newest first, with their message's metadata (never content: there is none in clear)."""
        query = (select(EmbargoItem, Message).join(Message, Message.id == EmbargoItem.message_id)
                 .order_by(EmbargoItem.id.desc()).limit(limit))
        return [(i, m) for i, m in self.session.execute(query).all()]

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(EmbargoItem)) or 0

    def add_decision(self, decision: EmbargoDecision) -> EmbargoDecision:
        self.session.add(decision)
        self.session.flush()
        return decision

    def decisions(self, message_id: int | None = None, *, state: str | None = None) -> Sequence[EmbargoDecision]:
        query = select(EmbargoDecision).order_by(EmbargoDecision.id)
        if message_id is not None:
            query = query.where(EmbargoDecision.message_id == message_id)
        if state is not None:
            query = query.where(EmbargoDecision.state == state)
        return self.session.scalars(query).all()

    def decision_by_digest(self, digest: str) -> EmbargoDecision | None:
        return self.session.scalar(select(EmbargoDecision).where(EmbargoDecision.statement_digest == digest))

    def recorded_decision(self, message_id: int) -> EmbargoDecision | None:
        """The decision in force for an item: the latest recorded one."""
        return self.session.scalar(select(EmbargoDecision).where(
            EmbargoDecision.message_id == message_id, EmbargoDecision.state == DecisionState.RECORDED,
            EmbargoDecision.superseded.is_(False)).order_by(EmbargoDecision.id.desc()).limit(1))
