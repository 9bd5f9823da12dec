"""Hostile OpenPGP data for the tests: compression bombs and packet floods, made with the gpg command line
from streams (never held whole in this process) by the crafting functions `passerelle bench bombs` uses
(hub/tools/bench/bombs.py), each in a short scratch home of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from hub.tools.bench import bombs as bench_bombs
from hub.tools.bench.bombs import MARKER, repeated

from .keys import TestKey, gpg, short_home

__all__ = ["MARKER", "armor", "compressed", "encrypt_stream", "first_packet_length", "repeated", "session_key_flood",
           "signature_packet"]


def encrypt_stream(tmp: Path, recipient_public: bytes, chunks: Iterable[bytes], **options) -> bytes:
    """Armoured ciphertext of the streamed *chunks* to *recipient_public* (see bench_bombs.encrypt_stream)."""
    return bench_bombs.encrypt_stream(short_home(tmp, "pb"), recipient_public, chunks, **options)


def compressed(tmp: Path, packets: bytes) -> bytes:
    """One compressed data packet holding *packets* as they are."""
    return bench_bombs.compressed(short_home(tmp, "pz"), packets)


def armor(binary: bytes, label: str = "PGP SIGNATURE") -> bytes:
    return bench_bombs.armor(short_home(Path("/tmp"), "pa"), binary, label)


def first_packet_length(binary: bytes) -> int:
    return bench_bombs.first_packet_length(short_home(Path("/tmp"), "pl"), binary)


def session_key_flood(tmp: Path, recipient_public: bytes, count: int) -> bytes:
    """A binary message after *count* session key packets, all but the last one failing."""
    return bench_bombs.session_key_flood(short_home(tmp, "pk"), recipient_public, count)


def signature_packet(key: TestKey, data: bytes) -> bytes:
    """One binary detached signature packet by *key* over *data*."""
    return gpg(key.home, "--detach-sign", "--local-user", key.fingerprint, data=data)
