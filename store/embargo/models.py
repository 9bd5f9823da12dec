"""Models of embargoed intelligence (law Art. 11-12, AR Art. 15): OCAM members, the holder lists the
director designates (every version kept, each signed by the director), the sealed items and the joint
decisions about them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base import Base, UTCDateTime
from ..models import BigId


class Member(Base):
    """A member of OCAM (director, deputy, expert, analyst, staff) with their own OpenPGP key."""

    __tablename__ = "member"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(40), unique=True)
    clearance: Mapped[str] = mapped_column(String(16))
    key_expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HolderListVersion(Base):
    """One version of the holder list of an embargo kind: who may open its items, and the director's
    signed statement that made it so (law Art. 11 al. 2, Art. 12 al. 2)."""

    __tablename__ = "holder_list_version"
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_holder_list_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # judicial | foreign
    version: Mapped[int] = mapped_column(Integer)
    holders: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"name", "fingerprint"}], sorted by name
    change: Mapped[str] = mapped_column(String(8))  # add | remove
    subject: Mapped[str] = mapped_column(String(64))  # the member added or removed
    statement: Mapped[str] = mapped_column(Text)  # the canonical text the director signed
    signature: Mapped[str] = mapped_column(Text)  # armoured detached signature over it
    signer_fingerprint: Mapped[str] = mapped_column(String(40))
    signed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EmbargoItem(Base):
    """An embargoed message's content, encrypted to the holders' keys only (never to the hub)."""

    __tablename__ = "embargo_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    holder_version: Mapped[int] = mapped_column(Integer)
    holders: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)  # OpenPGP message to the holders
    content_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of what was sealed
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resealed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    resealed_by: Mapped[Optional[str]] = mapped_column(String(64))
    # Who declared the embargo (the partner that sent it) and, for a judicial one (law Art. 11: the Federal
    # Prosecutor's decision), when and by whom it was confirmed; unconfirmed while confirmed_at is None.
    declared_by: Mapped[Optional[str]] = mapped_column(String(64))
    confirmed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    confirmed_by: Mapped[Optional[str]] = mapped_column(String(64))


class EmbargoDecision(Base):
    """The joint decision on an embargoed item (law Art. 11 al. 3-5, Art. 12 al. 3-5; AR Art. 15):
    recorded only when both the director's and the second party's signatures over it verify."""

    __tablename__ = "embargo_decision"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    integrate: Mapped[str] = mapped_column(String(16))  # yes | no | protection
    consent: Mapped[str] = mapped_column(String(8))  # yes | no
    recipients: Mapped[list[str]] = mapped_column(JSON)
    statement: Mapped[str] = mapped_column(Text)
    statement_digest: Mapped[str] = mapped_column(String(64), unique=True)
    director_signature: Mapped[Optional[str]] = mapped_column(Text)
    director_fingerprint: Mapped[Optional[str]] = mapped_column(String(40))
    second_signature: Mapped[Optional[str]] = mapped_column(Text)
    second_fingerprint: Mapped[Optional[str]] = mapped_column(String(40))
    second_party: Mapped[Optional[str]] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # a DecisionState
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
