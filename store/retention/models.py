"""Models of retention: an item's review and end dates, and the signed acts about it (the period keys are
sealing's, beside the sealed blobs in store/models.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..base import Base, UTCDateTime
from ..models import BigId
from ..vocabulary import RetentionState


class RetentionItem(Base):
    """What the hub holds of one message (its sealed bytes, its copies, its embargo item) and when it must be
    reviewed and when at the latest erased (law Art. 10/2 §1; AR Art. 5 §1-3)."""

    __tablename__ = "retention_item"
    __table_args__ = (Index("ix_retention_item_review", "state", "review_at"),
                      Index("ix_retention_item_end", "state", "end_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), unique=True)
    intake_at: Mapped[datetime] = mapped_column(UTCDateTime())
    review_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())  # None: no review left before the end
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    triggered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())  # an early review awaiting its decision
    state: Mapped[str] = mapped_column(String(8), default=RetentionState.HELD)  # a RetentionState
    erased_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    erased_by: Mapped[Optional[str]] = mapped_column(String(64))  # the director's name, or the hub at the end


class RetentionAct(Base):
    """A signed act about an item: an early-review trigger (AR Art. 5 §3, by a member) or a review decision
    (AR Art. 5 §4, by the director), with the statement and the signature that made it."""

    __tablename__ = "retention_act"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("retention_item.id"), index=True)
    act: Mapped[str] = mapped_column(String(8))  # trigger | review
    ground: Mapped[Optional[str]] = mapped_column(String(32))  # a trigger's AR Art. 5 §3 ground
    decision: Mapped[Optional[str]] = mapped_column(String(8))  # a review's keep | erase
    review_due: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())  # the review a decision answered
    statement: Mapped[str] = mapped_column(Text)
    statement_digest: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str] = mapped_column(Text)
    signer_fingerprint: Mapped[str] = mapped_column(String(40))
    signed_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
