"""A capturing relay on loopback: keeps what the hub sends, for tests, benchmarks and the demo.

It can be told to defer (4xx) or refuse (5xx) the next messages, to exercise retries.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    at: float

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data)


@dataclass
class _Handler:
    messages: list[Captured] = field(default_factory=list)
    defer_next: int = 0
    refuse_next: int = 0
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.attempts += 1
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "554 5.7.1 Refused by the test relay"
            if self.defer_next > 0:
                self.defer_next -= 1
                return "451 4.3.0 Deferred by the test relay"
            self.messages.append(Captured(envelope.mail_from, tuple(envelope.rcpt_tos),
                                          envelope.original_content or b"", time.monotonic()))
            self.arrived.notify_all()
        return "250 2.0.0 Ok: captured"


class CaptureRelay:
    """``with CaptureRelay() as relay: ... relay.wait_for(1)`` — an SMTP sink on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = _Handler()
        self._controller = Controller(self._handler, hostname=host, port=port or _free_port(host))

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
        self._controller.stop()

    def __enter__(self) -> "CaptureRelay":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
