"""A GnuPG home's public keyring as gpg lists and exports it, read once per change of the keyring (KeyringCache)
and again when a key in it starts or stops being valid: the material the keys signed with and encrypted to in
process are taken from, matched by fingerprint to what gpg's own listing judged."""

from __future__ import annotations

import math
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from crypto.errors import PacketError
from crypto.openpgp.bindings import Keyblock, fingerprint, keyblocks
from crypto.openpgp.colons import ListedKey, listed_keys
from crypto.openpgp.gpg_process import Outcome
from crypto.openpgp.packets import KeyPacket, key_packet, packets

Run = Callable[[Sequence[str], bytes], Outcome]
KEYRINGS = ("pubring.kbx", "pubring.gpg")


def keyring_stamp(home: Path) -> tuple:
    """Changes whenever gpg rewrites the public keyring (it writes a new file and renames it)."""
    stamp = []
    for name in KEYRINGS:
        try:
            st = os.stat(home / name)
        except OSError:
            stamp.append(None)
        else:
            stamp.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(stamp)


class KeyringCache:
    """Values computed from one home's keyring, computed again once the keyring changed (or *fresh* says the
    value no longer holds); thread-safe."""

    def __init__(self, home: Path) -> None:
        self._home = Path(home)
        self._lock = threading.Lock()
        self._held: dict[object, tuple[tuple, object]] = {}

    def get(self, name: object, compute: Callable[[], object], fresh: Callable[[object], bool] = lambda _: True):
        stamp = keyring_stamp(self._home)  # before computing: a change meanwhile is seen next time
        held = self._held.get(name)
        if held is None or held[0] != stamp or not fresh(held[1]):
            with self._lock:
                held = self._held.get(name)
                if held is None or held[0] != stamp or not fresh(held[1]):
                    held = self._held[name] = (stamp, compute())
        return held[1]


@dataclass
class Keyring:
    """gpg's listing of the home and its export, read at *read_at* (POSIX seconds); it describes the keys as gpg
    judges them until *until*, the first moment a key listed in it is created or expires."""

    listed: list[ListedKey]
    blocks: list[Keyblock]
    read_at: float
    until: float = math.inf
    copies: Counter = field(default_factory=Counter)  # how many times each (sub)key packet is in the export
    _derived: dict[str, object] = field(default_factory=dict)

    @property
    def key_ids(self) -> Counter:
        return Counter(fpr[-16:] for fpr in self.copies if fpr)

    def derived(self, name: str, compute: Callable[[Keyring], object]):
        """A value computed from this keyring alone (the keys signing and encryption read here), once."""
        if name not in self._derived:
            self._derived[name] = compute(self)
        return self._derived[name]

    def holds(self, now: float) -> bool:
        return now < self.until


def read_keyring(run: Run) -> Keyring:
    """The home's keyring as gpg lists and exports it now (empty where gpg fails or the export is not read)."""
    now = datetime.now(timezone.utc)
    listing = run(["--list-keys"], b"")
    listed = listed_keys(listing.data) if listing.returncode == 0 else []
    if not listed:
        return Keyring([], [], now.timestamp())
    changes = [t.timestamp() for key in listed for rec in (key.primary, *key.subkeys)
               for t in (rec.created, rec.expires) if t is not None and t > now]
    until = min(changes, default=math.inf)
    export = run(["--export"], b"")
    try:
        blocks = keyblocks(packets(export.data)) if export.returncode == 0 else []
    except PacketError:
        blocks = []
    copies = Counter(fingerprint(body) for block in blocks for body in block.bodies())
    return Keyring(listed, blocks, now.timestamp(), until, copies)


def readable(body: bytes) -> KeyPacket | None:
    """The public key packet read, if it is of a kind read here and holds nothing after its key material."""
    try:
        key = key_packet(body)
    except PacketError:
        return None
    return key if key.end == len(body) else None
