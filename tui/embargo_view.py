"""What the Embargo screen shows: sealed items as metadata (a judicial one confirmed or not, law Art. 11), holder
lists with their versions, and joint
decisions waiting for a signature. Never content: the hub holds none it could show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from store import Database, EmbargoDecision, EmbargoItem, HolderListVersion, Message, Partner
from store.vocabulary import DecisionState


@dataclass(frozen=True)
class SealedItem:
    reference: str
    kind: str
    partner: str
    received_at: datetime
    holder_version: int
    holders: int
    resealed_at: datetime | None
    decision: str  # "integrate=... consent=...", "pending", or "-"
    confirmation: str  # judicial (law Art. 11): "confirmed", or "UNCONFIRMED" awaiting the Federal Prosecutor; else "-"


@dataclass(frozen=True)
class ListVersion:
    kind: str
    version: int
    change: str
    member: str
    signed_by: str
    changed_at: datetime
    holders: tuple[str, ...]


@dataclass(frozen=True)
class Pending:
    reference: str
    integrate: str
    consent: str
    has_director: bool
    has_second: bool
    created_at: datetime


@dataclass(frozen=True)
class EmbargoState:
    items: list[SealedItem]
    lists: list[ListVersion]  # newest first
    pending: list[Pending]


def embargo_state(db: Database, *, limit: int = 200) -> EmbargoState:
    with db.reader() as uow:
        s = uow.session
        decisions: dict[int, str] = {}
        pending: list[Pending] = []
        for d, reference in s.execute(select(EmbargoDecision, Message.reference)
                                      .join(Message, Message.id == EmbargoDecision.message_id)
                                      .where(EmbargoDecision.superseded.is_(False))
                                      .order_by(EmbargoDecision.id)):
            if d.state == DecisionState.RECORDED:
                decisions[d.message_id] = f"integrate={d.integrate} consent={d.consent}"
            else:
                decisions.setdefault(d.message_id, DecisionState.PENDING.value)
                pending.append(Pending(reference, d.integrate, d.consent, bool(d.director_signature),
                                       bool(d.second_signature), d.created_at))
        # Columns only: the sealed ciphertext is never loaded here.
        items = [SealedItem(m_ref, kind, p_name or "-", received, version, len(holders), resealed,
                            decisions.get(m_id, "-"), _confirmation(kind, confirmed_by))
                 for kind, version, holders, resealed, confirmed_by, m_id, m_ref, received, p_name in s.execute(
                     select(EmbargoItem.kind, EmbargoItem.holder_version, EmbargoItem.holders, EmbargoItem.resealed_at,
                            EmbargoItem.confirmed_by, Message.id, Message.reference, Message.received_at, Partner.name)
                     .join(Message, Message.id == EmbargoItem.message_id)
                     .outerjoin(Partner, Partner.id == Message.partner_id)
                     .order_by(EmbargoItem.id.desc()).limit(limit))]
        lists = [ListVersion(v.kind, v.version, v.change, v.subject, v.signed_by, v.changed_at,
                             tuple(h["name"] for h in v.holders))
                 for v in s.scalars(select(HolderListVersion).order_by(HolderListVersion.id.desc()).limit(limit))]
        return EmbargoState(items, lists, pending)


def _confirmation(kind: str, confirmed_by: str | None) -> str:
    if kind != "judicial":
        return "-"
    return "confirmed" if confirmed_by else "UNCONFIRMED"
