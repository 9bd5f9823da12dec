"""Models of the audit log's Merkle tree (RFC 9162): tiles of its hashes, signed checkpoints, cosignatures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base import Base, UTCDateTime
from ..models import BigId


class LogTile(Base):
    """Hashes of complete subtrees, as C2SP tlog-tiles lays them out: the tile (level, idx) holds, in order,
    up to 256 hashes of the subtrees of height 8 × level numbered idx × 256, idx × 256 + 1, ...; level 0 holds
    the leaf hashes. The right-most tile of a level is partial (fewer than 256) until it fills.

    Written by whoever issues a checkpoint, in its transaction, never by an append."""

    __tablename__ = "log_tile"

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class LogCheckpoint(Base):
    """A checkpoint the hub signed: the tree of the first ``size`` events has ``root``; ``note`` is the C2SP
    signed note as issued (the hub's signature only). One per size."""

    __tablename__ = "log_checkpoint"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root: Mapped[str] = mapped_column(String(64))  # hex
    note: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(16))  # periodic | receipt | operator


class LogCosignature(Base):
    """A witness's cosignature of the checkpoint of ``size`` (C2SP tlog-cosignature v1, Ed25519): ``note`` is the
    checkpoint as the witness returned it (the hub's signature and its own), ``timestamp`` the witness's time
    (POSIX seconds). Whole, it stands even where the checkpoint's own row went."""

    __tablename__ = "log_cosignature"
    __table_args__ = (UniqueConstraint("witness", "size", name="uq_log_cosignature_once"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    witness: Mapped[str] = mapped_column(String(64))  # the registered partner or recipient
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    key_name: Mapped[str] = mapped_column(String(254))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
