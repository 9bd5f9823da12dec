"""End-to-end rig: a background hub on loopback plus a real smtplib client with STARTTLS."""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from hub.tools.background import BackgroundHub


def client_tls() -> ssl.SSLContext:
    """The hub's test certificate is self-signed: the client does not verify it (loopback only)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class RunningHub(BackgroundHub):
    """``with RunningHub(settings, relay=...) as hub: hub.send(raw)``."""

    def connect(self, *, starttls: bool = True) -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        client.ehlo("client.test")
        if starttls:
            client.starttls(context=client_tls())
            client.ehlo("client.test")
        return client

    def send(self, raw: bytes | str, *, mail_from: str = "sender@partner.test", rcpt: str | None = None,
             starttls: bool = True) -> tuple[int, str]:
        """One SMTP transaction; returns the reply to DATA (or to the first refused command)."""
        rcpt = rcpt or self.settings.hub.address
        with self.connect(starttls=starttls) as client:
            code, text = client.mail(mail_from)
            if code >= 400:
                return code, text.decode()
            code, text = client.rcpt(rcpt)
            if code >= 400:
                return code, text.decode()
            try:
                code, text = client.data(raw)
            except smtplib.SMTPDataError as exc:
                return exc.smtp_code, exc.smtp_error.decode()
            return code, text.decode()


def send_accepted(port: int, raw: bytes, sender: str, rcpt: str) -> str:
    """One STARTTLS transaction with a `serve` process on 127.0.0.1:*port*; asserts the 250, returns its text."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.starttls(context=client_tls())
        client.ehlo()
        client.mail(sender)
        client.rcpt(rcpt)
        code, text = client.data(raw)
        assert code == 250, text
        return text.decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_process(home: Path, port: int, relay: str, *args: str, **env: str) -> subprocess.Popen:
    """A real `passerelle serve` process on *home*, listening on 127.0.0.1:*port* (waited for, bounded); *args*
    go to the command (e.g. --metrics-listen), *env* to its environment."""
    environment = {**os.environ, "PASSERELLE_DELIVERY__RETRY_SCHEDULE_SECONDS": "[0.5]", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--home", str(home), "--listen", f"127.0.0.1:{port}",
         "--relay", relay, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise AssertionError(process.stdout.read().decode())
            time.sleep(0.05)
    process.kill()
    raise AssertionError("passerelle serve did not listen")
