"""The keys a GnuPG home holds valid for signing, with their public material: read from gpg's own
listing and export, once per change of the keyring (KeyringCache), for verification in process. A subkey
counts only with a cross-certified binding to its primary (crypto/bindings.py), and a (sub)key the keyring
holds under two primaries, or a key id two keys share, not at all: gpg decides for them."""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

from crypto.openpgp.bindings import cross_certified, fingerprint, keyblocks
from crypto.openpgp.colons import expiry, listed_keys, signing_records
from crypto.errors import PacketError
from crypto.openpgp.gpg_process import Outcome
from crypto.openpgp.packets import KeyPacket, key_packet, packets
from crypto.openpgp.pubkeys import public_key

Run = Callable[[Sequence[str], bytes], Outcome]
KEYRINGS = ("pubring.kbx", "pubring.gpg")


@dataclass(frozen=True)
class SigningKey:
    """A (sub)key gpg lists as usable for signing, bound to the primary key it belongs to."""

    fingerprint: str
    primary: str
    created: int
    expires: int | None  # the earlier of the key's own expiry and its primary's
    packet: KeyPacket
    public: object  # the `cryptography` public key


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
    """Values computed from one home's keyring, computed again once the keyring changed; thread-safe."""

    def __init__(self, home: Path) -> None:
        self._home = Path(home)
        self._lock = threading.Lock()
        self._held: dict[object, tuple[tuple, object]] = {}

    def get(self, name: object, compute: Callable[[], object]):
        stamp = keyring_stamp(self._home)  # before computing: a change meanwhile is seen next time
        held = self._held.get(name)
        if held is None or held[0] != stamp:
            with self._lock:
                held = self._held.get(name)
                if held is None or held[0] != stamp:
                    held = self._held[name] = (stamp, compute())
        return held[1]


def find(keys: Mapping[str, SigningKey], issuers: Sequence[str]) -> SigningKey | None:
    """The one key every fingerprint and key id of issuers names, or None (none, or several)."""
    named = [keys.get(issuer) for issuer in issuers]
    if not named or None in named or len({key.fingerprint for key in named}) != 1:
        return None
    return named[0]


def read_signing_keys(run: Run) -> dict[str, SigningKey]:
    """The home's signing keys by fingerprint and by key id, as gpg lists and exports them now."""
    listing = run(["--list-keys"], b"")
    if listing.returncode != 0:
        return {}
    now = datetime.now(timezone.utc)
    wanted: dict[tuple[str, str], int | None] = {}  # (primary, signing key) -> expiry
    for key in listed_keys(listing.data):
        for rec in signing_records(key, now):
            wanted[(key.primary.fingerprint, rec.fingerprint)] = expiry(key, rec)
    if not wanted:
        return {}
    export = run(["--export"], b"")
    if export.returncode != 0:
        return {}
    try:
        blocks = keyblocks(packets(export.data))
    except PacketError:
        return {}
    copies = Counter(fingerprint(body) for block in blocks for body in block.bodies())
    key_ids = Counter(fpr[-16:] for fpr in copies if fpr)
    found: list[SigningKey] = []
    for block in blocks:
        primary = _readable(block.primary)
        if primary is None:
            continue
        for parsed, signatures in [(primary, None), *((_readable(b), sigs) for b, sigs in block.subkeys)]:
            if parsed is None or (primary.fingerprint, parsed.fingerprint) not in wanted:
                continue
            if copies[parsed.fingerprint] != 1:
                continue  # a key twice in the keyring (under two primaries): whose it is, gpg decides
            if signatures is not None and not cross_certified(primary, parsed, signatures, int(now.timestamp())):
                continue
            public = public_key(parsed)
            if public is not None:
                found.append(SigningKey(parsed.fingerprint, primary.fingerprint, parsed.created,
                                        wanted[(primary.fingerprint, parsed.fingerprint)], parsed, public))
    by_id: dict[str, SigningKey] = {}
    for key in found:
        by_id[key.fingerprint] = key
        if key_ids[key.packet.key_id] == 1:
            by_id[key.packet.key_id] = key
    return by_id


def _readable(body: bytes) -> KeyPacket | None:
    """The public key packet read, if it is of a kind read here and holds nothing after its key material."""
    try:
        key = key_packet(body)
    except PacketError:
        return None
    return key if key.end == len(body) else None
