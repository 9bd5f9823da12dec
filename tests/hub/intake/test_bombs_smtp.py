"""Bombs over SMTP against a real `passerelle serve`: compressed plaintext past the limit, marker and
signature floods, session key floods — each refused with a permanent 5xx and its reason, the process's peak
memory (VmHWM) bounded, and an ordinary encrypted message still accepted afterwards."""

from __future__ import annotations

import re
import signal
import smtplib
import uuid
from pathlib import Path

import pytest

from gateway.capture import CaptureRelay
from tests.hub.rig import HUB, make_home, partner
from tests.support import bombs, keys, mail
from tests.support.hubrig import client_tls, free_port, serve_process

MAX_BYTES = 8 * 1024 * 1024  # gateway.max_message_bytes of this hub: also its decrypted-plaintext limit
TIMEOUT = 1.5  # crypto.gpg_timeout_seconds of this hub
PEAK_GROWTH = 100 * 1024 * 1024  # the serve process's VmHWM may grow this much over all the bombs


def _peak(pid: int) -> int:
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1)) * 1024


def _submit(port: int, raw: bytes, sender: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        client.starttls(context=client_tls())
        client.ehlo()
        client.mail(sender)
        client.rcpt(HUB)
        try:
            code, text = client.data(raw)
        except smtplib.SMTPDataError as exc:
            code, text = exc.smtp_code, exc.smtp_error
        return code, text.decode()


@pytest.fixture(scope="module")
def hub(module_tmp):
    home = make_home(module_tmp)
    key = partner(module_tmp, "police")
    home.register(key, "police-fed", "police")
    port = free_port()
    with CaptureRelay() as relay:
        process = serve_process(home.settings.home, port, relay.address,
                                PASSERELLE_GATEWAY__MAX_MESSAGE_BYTES=str(MAX_BYTES),
                                PASSERELLE_CRYPTO__GPG_TIMEOUT_SECONDS=str(TIMEOUT))
        try:
            public = home.gpg.export_public(home.fingerprint)
            code, text = _submit(port, mail.encrypted_mail(key, public, body=uuid.uuid4().hex), key.email)
            assert code == 250, text  # warmed up: gpg-agent started, keys read
            yield home, key, public, port, process, _peak(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)


def _ciphertext_mail(key, ciphertext: bytes) -> bytes:
    return mail.ciphertext_mail(ciphertext, sender=key.email, message_id=f"<{uuid.uuid4().hex}@partner.test>")


def _bomb(module_tmp: Path, public: bytes, shape: str) -> bytes:
    stream = {
        "zeros-zlib": (bombs.repeated(b"\0", 200_000_000), "zlib", True),
        "zeros-bzip2": (bombs.repeated(b"\0", 200_000_000), "bzip2", True),
        "short-lines": (bombs.repeated(b"a: b\r\n", 30_000_000), "zlib", True),
        # gpg reads 500 MB of markers in about 1.5 s on the project's machine, the time limit itself: four times
        # that, so that only a machine four times faster would finish them within the limit
        "markers": (bombs.repeated(bombs.MARKER, 2_000_000_000), "zlib", False),
    }[shape]
    return bombs.encrypt_stream(module_tmp, public, stream[0], compress=stream[1], literal=stream[2])


@pytest.mark.parametrize("shape", ["zeros-zlib", "zeros-bzip2", "short-lines"])
def test_a_compression_bomb_is_refused_552(hub, module_tmp, shape):
    """A few hundred kilobytes at most decrypting to 200 MB (or 30 MB of short lines): 552 5.3.4 at the
    plaintext limit."""
    home, key, public, port, process, _ = hub
    ciphertext = _bomb(module_tmp, public, shape)
    assert len(ciphertext) < 400_000
    code, text = _submit(port, _ciphertext_mail(key, ciphertext), key.email)
    assert (code, text) == (552, f"5.3.4 Decrypted message is larger than {MAX_BYTES} bytes")


def test_work_without_output_past_the_time_limit_is_refused_550(hub, module_tmp):
    """2 GB of marker packets in 4 MB: gpg reads them for about 6 s and writes nothing; killed at the
    time limit with its CPU spent on them, the message is refused for good (a 4xx would be retried forever)."""
    home, key, public, port, process, _ = hub
    code, text = _submit(port, _ciphertext_mail(key, _bomb(module_tmp, public, "markers")), key.email)
    assert (code, text) == (550, f"5.6.0 Message cannot be checked within {TIMEOUT:g} s: its OpenPGP data "
                                 "makes gpg work too long")


_BEGIN, _END = b"-----BEGIN PGP SIGNATURE-----", b"-----END PGP SIGNATURE-----\r\n"


def _signature_span(raw: bytes) -> tuple[int, int]:
    return raw.index(_BEGIN), raw.index(_END) + len(_END)


@pytest.mark.parametrize("shape", ["30,000 signatures", "compressed signatures", "two signatures"])
def test_a_signature_part_that_is_not_one_packet_is_refused_550(hub, module_tmp, shape):
    """The signed message's own (good) signature packet repeated 30,000 times (4.8 MB; gpg checked them
    for 30 s and answered 451), 5,000 of them in one compressed packet (2 KB), or just twice: 550 5.6.0
    at once, before gpg."""
    home, key, public, port, process, _ = hub
    raw = mail.signed_mail(key, body=uuid.uuid4().hex)
    start, end = _signature_span(raw)
    one = keys.gpg(key.home, "--dearmor", data=raw[start:end])
    packets = {"30,000 signatures": one * 30_000, "two signatures": one * 2,
               "compressed signatures": bombs.compressed(module_tmp, one * 5_000)}[shape]
    flooded = raw[:start] + bombs.armor(packets).replace(b"\n", b"\r\n") + raw[end:]
    code, text = _submit(port, flooded, key.email)
    assert (code, text) == (550, "5.6.0 Malformed signature: the signature part must be exactly one OpenPGP "
                                 "signature (RFC 3156)")


def test_a_flood_of_session_keys_is_refused_550(hub, module_tmp):
    """An encrypted message to the hub behind 999 session key packets that fail (each one a decryption for
    gpg-agent: 1,000 took gpg 1.8 s, 20,000 past its time limit) and its own: 550 5.6.0, before gpg."""
    home, key, public, port, process, _ = hub
    flood = bombs.armor(bombs.session_key_flood(module_tmp, public, 1_000), "PGP MESSAGE")
    code, text = _submit(port, _ciphertext_mail(key, flood), key.email)
    assert (code, text) == (550, "5.6.0 Malformed message: the encrypted part carries more than 64 session keys")


def test_after_the_bombs_memory_stayed_bounded_and_mail_flows(hub):
    """Run last in this module: the serve process's peak RSS grew less than PEAK_GROWTH over every bomb
    above, and an ordinary encrypted message still gets its 250."""
    home, key, public, port, process, peak_before = hub
    code, text = _submit(port, mail.encrypted_mail(key, public, body=uuid.uuid4().hex), key.email)
    assert code == 250, text
    growth = _peak(process.pid) - peak_before
    assert growth < PEAK_GROWTH, f"VmHWM grew {growth / 2**20:.0f} MiB"
    db = home.db()
    with db.reader() as uow:
        reasons = [e.detail["reason"] for e in uow.audit.recent(action="intake.refused", limit=50)]
    db.dispose()
    assert {"decrypted_too_large", "too_costly", "malformed_signature", "malformed"} <= set(reasons)
