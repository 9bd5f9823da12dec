"""`passerelle bench bombs`: compression bombs and packet floods, made with the gpg command line from streams,
sent over SMTP to a real `passerelle serve`: the reply, the time to it, and the serving process's memory."""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Callable, Iterable, Iterator

from crypto import Gpg
from crypto.mime import compose
from crypto.openpgp.gpg_process import stop_agent, system_binary
from gateway.capture import CaptureRelay
from store import Database

from hub.clock import SystemClock
from hub.registry import partners
from hub.settings import load

from ..director import director_home, init_with_director
from ..background import peak_rss, reset_peak, rss, served
from .load import cpu_model, serve_pid, session

MARKER = bytes([0xA8, 3]) + b"PGP"  # an obsolete marker packet (tag 10): gpg reads and skips it
_CHUNK = 1 << 20
_MB = 1_000_000


def repeated(unit: bytes, total: int) -> Iterator[bytes]:
    """*unit* repeated up to *total* bytes, a megabyte at a time (never held whole)."""
    block = unit * max(1, _CHUNK // len(unit))
    sent = 0
    while sent < total:
        piece = block[:total - sent]
        sent += len(piece)
        yield piece


def encrypt_stream(home: Path, recipient_public: bytes, chunks: Iterable[bytes], *, compress: str = "zlib",
                   level: int = 9, literal: bool = True, gpg: str | None = None) -> bytes:
    """Armoured ciphertext of the streamed *chunks* to the key *recipient_public* (gpg's command line, in the
    scratch GnuPG home *home*), compressed with *compress*. literal=False: the chunks are OpenPGP packets put
    in the encrypted data as they are (`--no-literal`), not one literal data packet holding them."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    recipient, out = home / "recipient.asc", home / "out.asc"
    recipient.write_bytes(recipient_public)
    command = [gpg or system_binary("gpg"), "--homedir", str(home), "--batch", "--yes", "--no-tty",
               "--trust-model", "always", "--armor", "--compress-algo", compress, "--compress-level", str(level),
               *([] if literal else ["--no-literal"]), "--encrypt", "--recipient-file", str(recipient),
               "--output", str(out)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for chunk in chunks:
            process.stdin.write(chunk)
        process.stdin.close()
        if process.wait(600) != 0:
            raise RuntimeError("gpg could not encrypt the stream")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return out.read_bytes()


def compressed(home: Path, packets: bytes, *, gpg: str | None = None) -> bytes:
    """One compressed data packet (zlib) holding *packets* as they are (`gpg --store --no-literal`)."""
    return _gpg(home, ["--no-literal", "--compress-algo", "zlib", "--store"], packets, gpg)


def armor(home: Path, binary: bytes, label: str = "PGP SIGNATURE", *, gpg: str | None = None) -> bytes:
    """ASCII armour of binary packets (`gpg --enarmor`), labelled *label*."""
    return _gpg(home, ["--enarmor"], binary, gpg).replace(b"PGP ARMORED FILE", label.encode())


def dearmor(home: Path, text: bytes, *, gpg: str | None = None) -> bytes:
    return _gpg(home, ["--dearmor"], text, gpg)


def first_packet_length(home: Path, binary: bytes, *, gpg: str | None = None) -> int:
    """Header and body length of the first packet of *binary*, as `gpg --list-packets` frames it."""
    listing = _gpg(home, ["--list-only", "--list-packets"], binary, gpg).decode()
    hlen, plen = re.search(r"# off=0 ctb=\w+ tag=\d+ hlen=(\d+) plen=(\d+)", listing).groups()
    return int(hlen) + int(plen)


def session_key_flood(home: Path, recipient_public: bytes, count: int, *, gpg: str | None = None) -> bytes:
    """A binary message to *recipient_public* whose data comes after *count* session key packets: count - 1
    copies of its own with the wrapped key altered (each one costs the recipient's gpg-agent a decryption
    that fails), then the real one."""
    binary = dearmor(home, encrypt_stream(home, recipient_public, [b"Content-Type: text/plain\r\n\r\nx\r\n"],
                                          gpg=gpg), gpg=gpg)
    size = first_packet_length(home, binary, gpg=gpg)
    real, data = binary[:size], binary[size:]
    return (real[:-1] + bytes([real[-1] ^ 1])) * (count - 1) + real + data


def _gpg(home: Path, args: list[str], data: bytes, gpg: str | None) -> bytes:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    done = subprocess.run([gpg or system_binary("gpg"), "--homedir", str(home), "--batch", "--yes", "--no-tty",
                           *args], input=data, capture_output=True, timeout=300)
    if done.returncode != 0 and not done.stdout:
        raise RuntimeError(f"gpg {args[0]} failed: {done.stderr.decode(errors='replace')[-300:]}")
    return done.stdout


# -- the benchmark ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    size: int  # bytes sent (the whole message)
    reply: str
    seconds: float
    rss_before: int  # the serve process's resident memory before the message
    peak: int  # its peak resident memory while it handled the message


def run_bombs_bench(*, zeros_mb: int = 1000, lines_mb: int = 30, markers_mb: int = 3000, signatures: int = 150_000,
                    gpg_timeout: float = 5.0, max_message_bytes: int | None = None) -> str:
    """Each case sent once, in order, to one fresh hub (*max_message_bytes*: its gateway.max_message_bytes,
    default the hub's own default)."""
    tmp = Path(tempfile.mkdtemp(prefix="pbb"))
    try:
        return _run(tmp, zeros_mb, lines_mb, markers_mb, signatures, gpg_timeout, max_message_bytes)
    finally:
        for home in [tmp / "hub" / "gnupg", *tmp.glob("*")]:
            if home.is_dir():
                stop_agent(home)
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, zeros_mb: int, lines_mb: int, markers_mb: int, signatures: int, gpg_timeout: float,
         max_message_bytes: int | None) -> str:
    identity = init_with_director(tmp)
    path = tmp / "hub" / "passerelle.toml"
    text = path.read_text() + f"\n[crypto]\ngpg_timeout_seconds = {gpg_timeout}\n"
    if max_message_bytes:
        text = re.sub(r"(?m)^max_message_bytes = \d+$", f"max_message_bytes = {max_message_bytes}", text)
    path.write_text(text)
    settings = load(tmp / "hub")
    partner = Gpg(tmp / "partner")
    sender = "bench@police.test"
    fpr = partner.generate_key(f"Bench <{sender}>")
    hub_gpg = Gpg(settings.gnupg_home)
    db = Database(settings.database_url)
    with db.unit_of_work() as uow:
        partners.add(uow, hub_gpg, SystemClock(), director_home(tmp, settings, hub_gpg), name="bench-police", kind="police", email=sender,
                     key_data=partner.export_public(fpr))
        uow.commit()
    db.dispose()
    public = hub_gpg.export_public(identity.fingerprint)
    partner.import_keys(public)
    scratch = tmp / "craft"

    def message(ciphertext: bytes) -> bytes:
        return _encrypted_message(ciphertext, sender, identity.address)

    def ordinary() -> bytes:
        return compose.encrypt_entity(partner, _entity(b"An ordinary message.\r\n" * 900), [identity.fingerprint],
                                      fpr, _headers(sender, identity.address))

    def signed_flood(packets: Callable[[bytes], bytes]) -> bytes:
        raw = compose.sign_entity(partner, _entity(b"Signed.\r\n"), fpr, _headers(sender, identity.address))
        start = raw.index(b"-----BEGIN PGP SIGNATURE-----")
        end = raw.index(b"-----END PGP SIGNATURE-----") + len(b"-----END PGP SIGNATURE-----")
        one = dearmor(scratch, raw[start:end])
        return raw[:start] + armor(scratch, packets(one)).rstrip(b"\n").replace(b"\n", b"\r\n") + raw[end:]

    def session_keys(count: int) -> bytes:
        return message(armor(scratch, session_key_flood(scratch, public, count), "PGP MESSAGE"))

    under_limit = (settings.gateway.max_message_bytes - 4096) // 6 * 6
    cases: list[tuple[str, Callable[[], bytes]]] = [
        ("ordinary message, signed and encrypted (20 KB)", ordinary),
        (f"{zeros_mb} MB of zeros, bzip2 -9", lambda: message(encrypt_stream(
            scratch, public, repeated(b"\0", zeros_mb * _MB), compress="bzip2"))),
        (f"{zeros_mb} MB of zeros, zlib -9", lambda: message(encrypt_stream(
            scratch, public, repeated(b"\0", zeros_mb * _MB)))),
        (f"{lines_mb} MB of short lines, zlib -9", lambda: message(encrypt_stream(
            scratch, public, repeated(b"a: b\r\n", lines_mb * _MB)))),
        (f"{under_limit // _MB} MB of short lines (under the limit)", lambda: message(encrypt_stream(
            scratch, public, repeated(b"a: b\r\n", under_limit)))),
        (f"{markers_mb} MB of marker packets, zlib -9", lambda: message(encrypt_stream(
            scratch, public, repeated(MARKER, markers_mb * _MB), literal=False))),
        (f"{signatures:,} signature packets in the signature part", lambda: signed_flood(lambda one: one * signatures)),
        ("5,000 signatures in one compressed packet",
         lambda: signed_flood(lambda one: compressed(scratch, one * 5000))),
        ("1,000 session keys (999 that fail, then one)", lambda: session_keys(1000)),
        ("ordinary message again", ordinary),
    ]
    results: list[Case] = []
    with CaptureRelay() as relay, served(settings.home, relay.address) as (port, _cpu):
        pid = serve_pid(settings.home)
        for name, make in cases:
            raw = make()
            reset_peak(pid)
            before = rss(pid)
            started = time.monotonic()
            reply = _submit(port, raw, sender, identity.address)
            results.append(Case(name, len(raw), reply, time.monotonic() - started, before, peak_rss(pid)))
    return _render(results, settings.gateway.max_message_bytes, gpg_timeout)


def _entity(body: bytes) -> bytes:
    return b"Content-Type: text/plain; charset=us-ascii\r\n\r\nUrgency: ROUTINE\r\n\r\n" + body


def _headers(sender: str, to: str) -> list[tuple[str, str]]:
    return [("From", sender), ("To", to), ("Subject", "bench bombs"), ("Date", format_datetime(SystemClock().now())),
            ("Message-ID", make_msgid(uuid.uuid4().hex[:8], "police.test"))]


def _encrypted_message(ciphertext: bytes, sender: str, to: str) -> bytes:
    boundary = uuid.uuid4().hex
    head = "".join(f"{k}: {v}\r\n" for k, v in _headers(sender, to))
    return (head + "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n").encode() \
        + ciphertext.replace(b"\n", b"\r\n") + f"\r\n--{boundary}--\r\n".encode()


def _submit(port: int, raw: bytes, sender: str, rcpt: str) -> str:
    with session(port, timeout=600) as client:
        client.mail(sender)
        client.rcpt(rcpt)
        try:
            code, text = client.data(raw)
        except smtplib.SMTPDataError as exc:
            code, text = exc.smtp_code, exc.smtp_error
    return f"{code} {text.decode(errors='replace')}"


def _render(results: list[Case], limit: int, gpg_timeout: float) -> str:
    gpg = subprocess.run([system_binary("gpg"), "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    mib = lambda n: f"{n / 2**20:.0f}"  # noqa: E731
    lines = [f"machine      {os.cpu_count()} cores, {cpu_model()}; {gpg}",
             f"hub          passerelle serve (embedded, SQLite), gateway.max_message_bytes {limit}, "
             f"crypto.gpg_timeout_seconds {gpg_timeout:g}; one STARTTLS client on loopback",
             f"{'case':<48} {'sent':>10} {'s':>7} {'RSS MiB':>8} {'peak':>6}  reply"]
    for c in results:
        lines.append(f"{c.name:<48} {c.size:>10,} {c.seconds:>7.2f} {mib(c.rss_before):>8} {mib(c.peak):>6}  "
                     f"{c.reply[:90]}")
    return "\n".join(lines)
