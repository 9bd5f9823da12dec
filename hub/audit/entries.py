"""The canonical leaf entry of an audit event: the bytes whose RFC 9162 leaf hash the Merkle tree holds.

The entry is the UTF-8 JSON object, keys sorted, no space, non-ASCII characters as themselves, of

    {"action": ..., "actor": ..., "at": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "detail": {...}, "index": N,
     "reference": "PSR-..." or null}

``index`` is the event's leaf index (0 for the first event), ``at`` its UTC time to the microsecond,
``detail`` its detail as stored (identifiers and verdicts, never content). Its leaf hash is
SHA-256(0x00 || entry).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from json.encoder import encode_basestring as _string  # a JSON string, non-ASCII as itself
from datetime import datetime, timezone
from typing import Any

from crypto.tlog import leaf_hash

from hub.errors import LogError

FIELDS = ("action", "actor", "at", "detail", "index", "reference")


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def of_row(row) -> bytes:
    """The entry of a stored event: a row with seq, at, actor, action, message_ref and detail as its stored text
    (canonical JSON, as the store writes it: store/database.py) — spliced as it is, without parsing it again."""
    at = row.at.astimezone(timezone.utc)
    return ('{"action":%s,"actor":%s,"at":"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ","detail":%s,"index":%d,"reference":%s}'
            % (_string(row.action), _string(row.actor), at.year, at.month, at.day, at.hour, at.minute, at.second,
               at.microsecond, row.detail or "{}", row.seq,
               "null" if row.message_ref is None else _string(row.message_ref))).encode("utf-8")


def leaf_of_row(row) -> bytes:
    return leaf_hash(of_row(row))


@dataclass(frozen=True)
class Entry:
    """An entry read back from its bytes (a receipt's, an export's): what the event says."""

    index: int
    at: datetime
    actor: str
    action: str
    reference: str | None
    detail: dict
    raw: bytes

    @property
    def leaf(self) -> bytes:
        return leaf_hash(self.raw)

    @classmethod
    def parse(cls, raw: bytes) -> "Entry":
        """Read an entry; LogError unless it is one, in its canonical form byte for byte."""
        try:
            value = json.loads(raw.decode("utf-8"))
            ok = isinstance(value, dict) and tuple(sorted(value)) == FIELDS and canonical(value) == raw
            at = datetime.strptime(value["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc) if ok else None
        except (UnicodeDecodeError, ValueError, TypeError) as exc:
            raise LogError(f"not a log entry: {exc}") from exc
        if not ok or not isinstance(value["index"], int) or not isinstance(value["detail"], dict):
            raise LogError("not a log entry in its canonical form")
        return cls(value["index"], at, value["actor"], value["action"], value["reference"], value["detail"], raw)
