"""The boundary benchmark: what the floods and bombs of issue 13 cost the hub before any signature check.

Each case goes through a real STARTTLS session to a `passerelle serve` process; the figures are the time
from the start of DATA to the reply, the hub's CPU for it, and the growth of the hub's peak RSS (its high-water
mark reset before each case through /proc/PID/clear_refs)."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from email.utils import format_datetime, make_msgid
from pathlib import Path

from crypto import Gpg
from crypto.mime import compose
from crypto.openpgp.gpg_process import stop_agent, system_binary
from gateway.capture import CaptureRelay

from hub.clock import SystemClock
from hub.registry import partners
from hub.settings import load

from ..director import DIRECTOR, director_home, init_with_director
from ..background import cpu_seconds, peak_rss, reset_peak, rss, served
from .load import cpu_model, serve_pid, session


@dataclass(frozen=True)
class Case:
    name: str
    size: int
    reply: str
    seconds: float
    cpu: float
    rss_growth: int  # bytes the hub's peak RSS rose by during the case


def _cases(fresh, scale: float) -> list[tuple[str, bytes, str]]:
    """(name, DATA, MAIL FROM) of each case; *fresh()* a new signed 20 KB message (a second send of one would
    be a replay); *scale* 1 gives the sizes of issue 13."""
    n = lambda count: max(1, int(count * scale))  # noqa: E731
    head, _, body = fresh().partition(b"\r\n\r\n")
    text_bounce = (b"From: MAILER-DAEMON@mx.test\r\nTo: hub@ocam.test\r\nSubject: Undelivered\r\n"
                   b"Message-ID: <bounce@mx.test>\r\nContent-Type: text/plain\r\n\r\n"
                   b"Your message could not be delivered: 550 5.1.1 unknown\r\n"
                   b"Message-ID: <never-sent@ocam.test>\r\n")
    deep = b"Content-Type: text/plain\r\n\r\nbounce\r\n"
    for level in range(n(1000)):
        deep = (f'Content-Type: multipart/mixed; boundary="d{level}"\r\n\r\n--d{level}\r\n'.encode() + deep
                + f"\r\n--d{level}--\r\n".encode())
    fields = b"".join(b"X-Relay-%03d: mx%03d.partner.test\r\n" % (i, i) for i in range(990))
    return [
        ("a signed 20 KB message (for comparison)", fresh(), "bench@police.test"),
        ("24 MB of short lines, no empty line", b"a\r\n" * n(8_000_000), "bench@police.test"),
        ("24 MB of lines ending in a dot, the same", b"x.\r\n" * n(6_000_000), "bench@police.test"),
        ("24 MB of short and dot lines in turn, the same", b"a\r\nb.\r\n" * n(3_428_571), "bench@police.test"),
        ("1,000,000 outer header fields", b"X-H: v\r\n" * n(1_000_000) + fresh(), "bench@police.test"),
        ("990 more outer fields (under both limits)", head + b"\r\n" + fields + b"\r\n" + body, "bench@police.test"),
        ("10 MB null-sender bounce", text_bounce + (b"x" * 76 + b"\r\n") * n(130_000), "<>"),
        ("1 MB null-sender bounce (at its limit)", text_bounce + (b"x" * 76 + b"\r\n") * n(13_000), "<>"),
        ("1,000-deep nesting, null sender", b"From: MAILER-DAEMON@mx.test\r\nMIME-Version: 1.0\r\n" + deep, "<>"),
    ]


def _one(port: int, pid: int, raw: bytes, sender: str, rcpt: str) -> tuple[str, float, float, int]:
    with session(port, timeout=600) as client:
        client.mail(sender)
        client.rcpt(rcpt)
        time.sleep(0.2)  # the hub settles after the session's start; then its peak and CPU are read
        reset_peak(pid)
        rss_before, cpu_before = rss(pid), sum(cpu_seconds(pid))
        started = time.monotonic()
        code, text = client.data(raw)
        seconds = time.monotonic() - started
        cpu = sum(cpu_seconds(pid)) - cpu_before
        growth = max(0, peak_rss(pid) - rss_before)
    return f"{code} {text.decode(errors='replace')}", seconds, cpu, growth


def run_boundary_bench(scale: float = 1.0) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="pbb"))
    try:
        identity = init_with_director(tmp)
        partner_gpg = Gpg(tmp / "partner")
        sender = "bench@police.test"
        fpr = partner_gpg.generate_key(f"Bench <{sender}>")
        settings = load(tmp / "hub")
        from store import Database

        db = Database(settings.database_url)
        with db.unit_of_work() as uow:
            hub_gpg = Gpg(settings.gnupg_home)
            partners.add(uow, hub_gpg, SystemClock(), director_home(tmp, settings, hub_gpg), name="bench-police",
                         kind="police", email=sender, key_data=partner_gpg.export_public(fpr))
            uow.commit()
        db.dispose()
        entity = (b"Content-Type: text/plain; charset=us-ascii\r\n\r\nUrgency: ROUTINE\r\n\r\n"
                  + b"Bench line lorem ipsum dolor sit amet consectetur adipiscing elit sed do.\r\n" * 270)
        cases = []
        with CaptureRelay() as relay, served(settings.home, relay.address) as (port, _cpu):
            pid = serve_pid(settings.home)
            for name, raw, mail_from in _cases(lambda: _fresh(partner_gpg, fpr, sender, identity.address, entity),
                                               scale):
                reply, seconds, cpu, growth = _one(port, pid, raw, mail_from, identity.address)
                cases.append(Case(name, len(raw), reply, seconds, cpu, growth))
        return _render(cases, settings.gateway, scale)
    finally:
        for home in (tmp / "partner", tmp / "hub" / "gnupg", tmp / DIRECTOR):
            stop_agent(home)
        shutil.rmtree(tmp, ignore_errors=True)


def _fresh(gpg: Gpg, fpr: str, sender: str, to: str, entity: bytes) -> bytes:
    return compose.sign_entity(gpg, entity + f"{time.time_ns()}\r\n".encode(), fpr, [
        ("From", sender), ("To", to), ("Subject", "bench"), ("Date", format_datetime(SystemClock().now())),
        ("Message-ID", make_msgid("bb", "police.test"))])


def _render(cases: list[Case], gateway, scale: float) -> str:
    gpg = subprocess.run([system_binary("gpg"), "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    lines = [
        f"machine      {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}; {gpg}",
        f"hub          passerelle serve (embedded, SQLite), default limits: header section {gateway.max_header_bytes} "
        f"bytes / {gateway.max_header_fields} fields, notification {gateway.max_notification_bytes} bytes, MIME depth "
        f"{gateway.max_mime_depth}, message {gateway.max_message_bytes} bytes; STARTTLS on loopback; scale {scale:g}",
        f"{'case':<42} {'bytes':>11} {'DATA->reply':>12} {'hub CPU':>9} {'peak RSS +':>11}  reply",
    ]
    for c in cases:
        reply = re.sub(r"\s+", " ", c.reply)[:90]
        lines.append(f"{c.name:<42} {c.size:>11,} {c.seconds * 1000:>9.0f} ms {c.cpu * 1000:>6.0f} ms "
                     f"{c.rss_growth / 2**20:>7.1f} MiB  {reply}")
    return "\n".join(lines)
