"""Hostile OpenPGP data made with the gpg command line from streams (never held whole in this process):
compression bombs, packet floods, and the PGP/MIME messages that carry them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterable, Iterator

from .keys import GPG, TestKey, gpg, short_home

MARKER = bytes([0xA8, 3]) + b"PGP"  # an obsolete marker packet (tag 10): gpg reads and skips it
CHUNK = 1 << 20


def repeated(unit: bytes, total: int) -> Iterator[bytes]:
    """*unit* repeated up to *total* bytes, a megabyte at a time."""
    block = unit * max(1, CHUNK // len(unit))
    sent = 0
    while sent < total:
        piece = block[:total - sent]
        sent += len(piece)
        yield piece


def encrypt_stream(tmp: Path, recipient_public: bytes, chunks: Iterable[bytes], *, compress: str = "zlib",
                   level: int = 9, literal: bool = True) -> bytes:
    """Armoured ciphertext of the streamed *chunks* to the key *recipient_public*, compressed with gpg's
    *compress* algorithm. literal=False: the chunks are OpenPGP packets put in the encrypted (compressed)
    data as they are (`--no-literal`), instead of one literal data packet holding them."""
    home = short_home(tmp, "pb")
    recipient, out = home / "recipient.asc", home / "out.asc"
    recipient.write_bytes(recipient_public)
    command = [GPG, "--homedir", str(home), "--batch", "--yes", "--no-tty", "--trust-model", "always",
               "--armor", "--compress-algo", compress, "--compress-level", str(level),
               *([] if literal else ["--no-literal"]), "--encrypt", "--recipient-file", str(recipient),
               "--output", str(out)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for chunk in chunks:
            process.stdin.write(chunk)
        process.stdin.close()
        assert process.wait(300) == 0, "gpg could not encrypt the stream"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return out.read_bytes()


def signature_packet(key: TestKey, data: bytes) -> bytes:
    """One binary detached signature packet by *key* over *data*."""
    return gpg(key.home, "--detach-sign", "--local-user", key.fingerprint, data=data)


def armor(binary: bytes, label: str = "PGP SIGNATURE") -> bytes:
    """ASCII armour of binary packets, by gpg (`--enarmor`), with the label gpg gives them."""
    home = short_home(Path("/tmp"), "pa")
    text = gpg(home, "--enarmor", data=binary)
    return text.replace(b"PGP ARMORED FILE", label.encode())


def compressed(tmp: Path, packets: bytes) -> bytes:
    """One compressed data packet (zlib) holding *packets* as they are (`gpg --store --no-literal`)."""
    home = short_home(tmp, "pz")
    return gpg(home, "--no-literal", "--compress-algo", "zlib", "--store", data=packets)
