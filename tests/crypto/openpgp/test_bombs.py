"""What hostile OpenPGP input can make gpg do is bounded: decryption stops at the plaintext limit whatever the
compression (gpg killed, memory of this process flat), status floods stop, a CPU-bound timeout is told from a
wait, and data that is not one signature packet, or carries a flood of session keys, never reaches gpg."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from crypto import CiphertextMalformed, GpgOutputTooLarge, GpgTimedOut
from crypto.openpgp.gpg import Gpg
from crypto.openpgp.gpg_process import MAX_STATUS_BYTES, Engine, input_file
from tests.support import bombs, keys

DATA = b"Content-Type: text/plain\r\n\r\nFLASH: convoy at 06:00\r\n"
LIMIT = 1 << 20


def _peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from the current RSS


def _peak_rss() -> int:
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024


def _gpg_children() -> list[int]:
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[1] == me and "(gpg)" in stat:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def hub_public(hub_gpg, hub_fpr) -> bytes:
    return hub_gpg.export_public(hub_fpr)


@pytest.fixture(scope="module")
def bounded(session_dir, hub_gpg, hub_fpr) -> Gpg:
    """The hub's home with a plaintext limit of 1 MiB."""
    return Gpg(session_dir / "hub", max_plaintext_bytes=LIMIT)


@pytest.mark.parametrize("algo", ["zlib", "bzip2", "zip"])
def test_a_compression_bomb_stops_at_the_plaintext_limit(bounded, hub_public, session_dir, algo):
    """200 MB of zeros compressed to a few kilobytes: refused once 1 MiB is out, gpg killed, this process's
    peak memory a few megabytes above where it was."""
    ciphertext = bombs.encrypt_stream(session_dir, hub_public, bombs.repeated(b"\0", 200_000_000), compress=algo)
    assert len(ciphertext) < 400_000
    _peak_rss_reset()
    before = _peak_rss()
    with pytest.raises(GpgOutputTooLarge) as refused:
        bounded.decrypt(ciphertext)
    assert (refused.value.stream, refused.value.limit) == ("output", LIMIT)
    assert _peak_rss() - before < 16 * LIMIT
    assert not _gpg_children()


def test_short_lines_are_bounded_like_zeros(bounded, hub_public, session_dir):
    """30 MB of short lines (the shape that cost the most to parse) stop at the same limit."""
    ciphertext = bombs.encrypt_stream(session_dir, hub_public, bombs.repeated(b"a: b\r\n", 30_000_000))
    with pytest.raises(GpgOutputTooLarge):
        bounded.decrypt(ciphertext)


def test_a_plaintext_at_the_limit_decrypts_and_one_byte_more_does_not(bounded, hub_public, session_dir):
    """The limit is the plaintext's size: exactly LIMIT bytes decrypt, LIMIT + 1 are refused."""
    exact = os.urandom(LIMIT)
    ciphertext = bombs.encrypt_stream(session_dir, hub_public, [exact], compress="none")
    assert bounded.decrypt(ciphertext).plaintext == exact
    over = bombs.encrypt_stream(session_dir, hub_public, [exact, b"x"], compress="none")
    with pytest.raises(GpgOutputTooLarge):
        bounded.decrypt(over)


def test_a_flood_of_status_lines_stops_gpg(session_dir, hub_gpg, alice):
    """20,000 good signatures checked by gpg itself (the adapter would refuse them before): gpg stops when
    its status lines pass MAX_STATUS_BYTES, long before it has checked them all."""
    engine = Engine(timeout=60, gpgbinary=hub_gpg.binary, gnupghome=str(session_dir / "hub"))
    flood = bombs.signature_packet(alice, DATA) * 20_000
    with pytest.raises(GpgOutputTooLarge) as refused:
        engine.run(["--verify", "--", input_file(0), "-"], DATA, files=[flood])
    assert (refused.value.stream, refused.value.limit) == ("status", MAX_STATUS_BYTES)


def test_gpg_working_past_the_time_limit_is_busy(session_dir, hub_public, hub_fpr):
    """1 GB of marker packets inside the compressed data: no output, gpg reads them for about 3 s (500 MB took
    1.5 s on the project's machine; with a limit of 0.8 s only a machine nearly four times faster would pass
    them in time). Killed at the limit, it had used CPU most of the time: `busy` (the input's cost, a 5xx), not
    taken for a wait."""
    ciphertext = bombs.encrypt_stream(session_dir, hub_public, bombs.repeated(bombs.MARKER, 1_000_000_000),
                                      literal=False)
    slow = Gpg(session_dir / "hub", timeout_seconds=0.8)
    with pytest.raises(GpgTimedOut) as timed_out:
        slow.decrypt(ciphertext)
    assert timed_out.value.busy and timed_out.value.cpu_seconds >= 0.2
    assert not _gpg_children()


def test_gpg_waiting_past_the_time_limit_is_not_busy(gpg_dir):
    """A gpg that waits (a stuck agent, a lock) times out without CPU: not busy (the hub's trouble, 4xx)."""
    fake = gpg_dir / "waitinggpg"
    fake.write_text('#!/bin/sh\ncase "$*" in *--list-config*|*--check-trustdb*) exec /usr/bin/gpg "$@";; esac\n'
                    "exec sleep 30\n")
    fake.chmod(0o755)
    waiting = Gpg(gpg_dir / "h", binary=str(fake), timeout_seconds=0.5, in_process=False)
    with pytest.raises(GpgTimedOut) as timed_out:
        waiting.decrypt(b"-----BEGIN PGP MESSAGE-----\n\nhQ==\n-----END PGP MESSAGE-----\n")
    assert not timed_out.value.busy


# -- a detached signature is one signature packet -------------------------------------------------------

@pytest.fixture(scope="module")
def one(alice) -> bytes:
    return bombs.signature_packet(alice, DATA)


def test_one_signature_in_any_armour_is_still_checked(hub_gpg, alice, one):
    """Binary, armoured (LF or CRLF, with armour headers, after a line of text): one packet, verified good."""
    armoured = keys.sign_detached(alice, DATA)
    headers = armoured.replace(b"-----\n\n", b"-----\nVersion: GnuPG v2\nComment: a comment\n\n", 1)
    for signature in (one, armoured, armoured.replace(b"\n", b"\r\n"), headers, b"Signed:\n" + armoured):
        check = hub_gpg.verify_detached(DATA, signature)
        assert check.status == "good", (signature[:80], check.detail)


@pytest.mark.parametrize("shape", ["two", "flood", "compressed", "two armours", "too large", "trailing"])
def test_what_is_not_one_signature_packet_never_reaches_gpg(hub_gpg, alice, one, shape, session_dir):
    """Several signatures (even all good), a compressed packet holding 5,000 of them, two armour blocks, data
    after the packet, or more than max_signature_bytes: "malformed", before gpg (which would check each)."""
    armoured = keys.sign_detached(alice, DATA)
    signature = {
        "two": one * 2,
        "flood": bombs.armor(one * 300),  # 48 KB armoured: within the size limit
        "compressed": bombs.armor(bombs.compressed(session_dir, one * 5_000)),
        "two armours": armoured + armoured,
        "too large": bombs.armor(one * 1_000),
        "trailing": one + b"\xc2\x01\x00",
    }[shape]
    check = hub_gpg.verify_detached(DATA, signature)
    assert check.status == "malformed" and not check.valid, check.detail
    assert "signature part" in check.detail


def test_garbage_is_still_left_to_gpg(hub_gpg):
    """Data in which no packet can be read is gpg's to refuse (small, as every signature part is)."""
    assert hub_gpg.verify_detached(DATA, b"not a signature").status == "error"


# -- session keys --------------------------------------------------------------------------------------

def test_more_session_keys_than_the_limit_never_reach_gpg(session_dir, hub_gpg, hub_public, hub_fpr):
    """Session key packets that fail before the real one: with 64 in all the message still decrypts; with 65,
    or a hundred marker packets before them, it is refused before gpg (which would try each with its agent)."""
    assert hub_gpg.decrypt(bombs.session_key_flood(session_dir, hub_public, 64)).plaintext.endswith(b"x\r\n")
    with pytest.raises(CiphertextMalformed, match="more than 64 session keys"):
        hub_gpg.decrypt(bombs.armor(bombs.session_key_flood(session_dir, hub_public, 65), "PGP MESSAGE"))
    with pytest.raises(CiphertextMalformed):
        hub_gpg.decrypt(bombs.MARKER * 100 + bombs.session_key_flood(session_dir, hub_public, 1))
