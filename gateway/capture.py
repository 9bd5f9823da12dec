"""A capturing relay on loopback: keeps what the hub sends, for tests, benchmarks and the demo.

It can be told to defer (4xx) or refuse (5xx) the next messages, to exercise retries, or to hold its replies (a
slow relay: every sender is kept waiting in a transaction). It offers DSN (RFC 3461)
and, when given somewhere to return them, answers a message asking for NOTIFY=SUCCESS with a success report
(RFC 3464) as the destination's MTA would.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import message_from_bytes
from email.message import Message
from email.utils import format_datetime

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

DSN_PARAMETERS = frozenset({"RET", "ENVID", "NOTIFY", "ORCPT"})  # RFC 3461 §4


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    at: float
    mail_options: tuple[str, ...] = ()
    rcpt_options: tuple[str, ...] = ()

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data)

    def option(self, name: str) -> str | None:
        """The value of a MAIL or RCPT parameter (ENVID, RET, NOTIFY), xtext-decoded; None when absent."""
        for option in (*self.mail_options, *self.rcpt_options):
            key, _, value = option.partition("=")
            if key.upper() == name.upper():
                return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)
        return None

    def success_dsn(self, reporting_mta: str = "mx.destination.test") -> bytes:
        """The delivery status notification of success (RFC 3464) the destination would return: for each
        recipient "delivered", the ENVID it was given, and the message's headers (RET=HDRS)."""
        boundary = "=_dsn_" + secrets.token_hex(8)
        head = self.data.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
        envid = self.option("ENVID")
        per_message = [f"Reporting-MTA: dns; {reporting_mta}",
                       *([f"Original-Envelope-Id: {envid}"] if envid else []),
                       f"Arrival-Date: {_now()}"]
        per_recipient = "".join(f"\r\nFinal-Recipient: rfc822; {r}\r\nAction: delivered\r\nStatus: 2.0.0\r\n"
                                for r in self.rcpt_tos)
        return (
            f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>\r\nTo: {self.mail_from}\r\n"
            f"Subject: Successful Mail Delivery Report\r\nDate: {_now()}\r\n"
            f"Message-ID: <{secrets.token_hex(12)}@{reporting_mta}>\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nYour message was successfully delivered.\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n" + "\r\n".join(per_message) + "\r\n"
            + per_recipient +
            f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{head}\r\n"
            f"--{boundary}--\r\n"
        ).encode("ascii")


def _now() -> str:
    return format_datetime(datetime.now(timezone.utc))


class _DsnSMTP(SMTP):
    """aiosmtpd answers 555 to MAIL and RCPT parameters it does not know: these ones are read, not refused."""

    def _getparams(self, params):
        found = super()._getparams(params)
        return None if found is None else {k: v for k, v in found.items() if k not in DSN_PARAMETERS}


class _Controller(Controller):
    def factory(self):
        return _DsnSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class _Handler:
    messages: list[Captured] = field(default_factory=list)
    defer_next: int = 0
    refuse_next: int = 0
    attempts: int = 0
    offer_dsn: bool = True
    holding: bool = False
    return_dsn: Callable[[bytes], object] | None = None
    returning: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-DSN", responses[-1]] if self.offer_dsn else responses

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.attempts += 1
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "554 5.7.1 Refused by the test relay"
            if self.defer_next > 0:
                self.defer_next -= 1
                return "451 4.3.0 Deferred by the test relay"
            captured = Captured(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.original_content or b"",
                                time.monotonic(), tuple(envelope.mail_options), tuple(envelope.rcpt_options))
            self.messages.append(captured)
            self.arrived.notify_all()
            if self.return_dsn is not None and "SUCCESS" in (captured.option("NOTIFY") or "").split(","):
                # The destination reports after it has the message, not while the sender waits for the 250.
                thread = threading.Thread(target=self.return_dsn, args=(captured.success_dsn(),),
                                          name="capture-dsn", daemon=True)
                self.returning.append(thread)
                thread.start()
        while self.holding:  # its bytes have arrived; its sender waits for the reply (the relay's loop does not)
            await asyncio.sleep(0.01)
        return "250 2.0.0 Ok: captured"


class CaptureRelay:
    """``with CaptureRelay() as relay: ... relay.wait_for(1)`` — an SMTP sink on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, offer_dsn: bool = True) -> None:
        self._handler = _Handler(offer_dsn=offer_dsn)
        self._controller = _Controller(self._handler, hostname=host, port=port or _free_port(host))

    @property
    def address(self) -> str:
        return f"{self._controller.hostname}:{self._controller.port}"

    @property
    def messages(self) -> list[Captured]:
        with self._handler.lock:
            return list(self._handler.messages)

    @property
    def attempts(self) -> int:
        return self._handler.attempts

    def defer(self, count: int) -> None:
        with self._handler.lock:
            self._handler.defer_next = count

    def refuse(self, count: int) -> None:
        with self._handler.lock:
            self._handler.refuse_next = count

    def hold(self, holding: bool = True) -> None:
        """From now on, keep every sender waiting for its reply to DATA after its message arrived (it is in
        ``messages``), until ``hold(False)`` (or the relay stops)."""
        self._handler.holding = holding

    def return_dsns(self, deliver: Callable[[bytes], object] | None) -> None:
        """From now on, hand *deliver* the success DSN of each message that asks for one (NOTIFY=SUCCESS), in a
        thread of its own after the 250 (None: stop)."""
        with self._handler.lock:
            self._handler.return_dsn = deliver

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Captured]:
        """Block until *count* messages arrived (or the timeout); returns what arrived."""
        deadline = time.monotonic() + timeout
        with self._handler.arrived:
            while len(self._handler.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._handler.arrived.wait(left)
            return list(self._handler.messages)

    def start(self) -> "CaptureRelay":
        self._controller.start()
        return self

    def stop(self) -> None:
        self.hold(False)
        self._controller.stop()
        with self._handler.lock:
            returning, self._handler.returning = self._handler.returning, []
        for thread in returning:
            thread.join(30)

    def __enter__(self) -> "CaptureRelay":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
