"""What the benchmarks share: the machine's name, percentiles, the signed messages of the load and their SMTP
transactions, a hub home pointed at RabbitMQ, the pid of the `serve` process a benchmark started."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import smtplib
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import format_datetime, make_msgid
from pathlib import Path

from crypto import Gpg
from crypto.mime import compose

from hub.clock import SystemClock


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def entity(n: int, size: int, urgency: str = "URGENT") -> bytes:
    filler = ("Bench line %06d lorem ipsum dolor sit amet consectetur adipiscing elit.\r\n" % n) * (size // 76 + 1)
    return ("Content-Type: text/plain; charset=us-ascii\r\n\r\nUrgency: " + urgency + "\r\nMessage-Kind: request\r\n\r\n"
            + filler[:size]).encode()


def presign(gpg: Gpg, fpr: str, sender: str, to: str, count: int, size: int, urgency: str = "URGENT") -> list[bytes]:
    def one(n: int) -> bytes:
        headers = [("From", sender), ("To", to), ("Subject", f"bench {n}"),
                   ("Date", format_datetime(SystemClock().now())), ("Message-ID", make_msgid(f"b{n}", "police.test"))]
        return compose.sign_entity(gpg, entity(n, size, urgency), fpr, headers)

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def loopback_tls() -> ssl.SSLContext:
    """The benchmarks' client TLS: their temporary hub's self-signed certificate is not checked (loopback only)."""
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    return tls


@contextlib.contextmanager
def session(port: int, *, timeout: float, tls: ssl.SSLContext | None = None):
    """An SMTP session to the hub on loopback *port*, after STARTTLS and EHLO (*tls*: one context for many)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as smtp:
        smtp.starttls(context=tls or loopback_tls())
        smtp.ehlo()
        yield smtp


def send(smtp: smtplib.SMTP, sender: str, rcpt: str, raw: bytes, refusals: list[str] | None = None) -> str | None:
    """One transaction on an open session: the text of its final reply if accepted, else None (and the refusal,
    code and text, appended to *refusals*)."""
    try:
        smtp.mail(sender)
        smtp.rcpt(rcpt)
        code, text = smtp.data(raw)
    except smtplib.SMTPResponseException as refusal:
        if refusals is not None:
            refusals.append(f"{refusal.smtp_code} {refusal.smtp_error.decode(errors='replace')}")
        smtp.rset()
        return None
    return text.decode(errors="replace")


def reference_in(text: str) -> str | None:
    """The hub's reference in a 250 ("Accepted as PSR-..."), or None."""
    match = re.search(r"PSR-\d{4}-\d{6}", text)
    return match.group(0) if match else None


def use_broker(home: Path, url: str) -> None:
    """Point a home's settings at RabbitMQ, in a namespace of its own."""
    path = home / "passerelle.toml"
    text = path.read_text()
    marker = '\n[transport]\n'
    assert marker in text and '\nurl = ""' in text.split(marker, 1)[1]
    head, transport = text.split(marker, 1)
    transport = transport.replace('url = ""', f'url = "{url}"\nnamespace = "bench-{os.getpid()}-{time.time_ns()}"', 1)
    path.write_text(head + marker + transport)


def serve_pid(home: Path) -> int:
    """The pid of the `passerelle serve` process on *home* (the bench's child)."""
    out = subprocess.run(["pgrep", "-P", str(os.getpid()), "-f", f"serve --home {home}"], capture_output=True,
                         text=True).stdout.split()
    if not out:
        raise RuntimeError("the serve process was not found")
    return int(out[0])
