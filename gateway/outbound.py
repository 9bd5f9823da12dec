"""The SMTP client for outbound mail: messages to the relay (smart host), errors classified, sessions reused."""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass, field

from .errors import RelayPermanent, RelayTemporary


@dataclass
class Relay:
    """Where the hub's mail goes. Each thread keeps one SMTP session open to it and reuses it."""

    host: str
    port: int
    starttls: bool = False
    timeout_seconds: float = 30.0
    local_hostname: str | None = None
    _sessions: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    def send(self, mail_from: str, rcpt_to: str, data: bytes) -> str:
        """Hand *data* to the relay for *rcpt_to*; returns the relay's reply text (its queue id, usually)."""
        client = getattr(self._sessions, "client", None)
        if client is not None:
            try:
                if client.noop()[0] != 250:
                    raise smtplib.SMTPServerDisconnected("relay session not usable")
            except (smtplib.SMTPException, OSError):
                self._drop()
                client = None
        try:
            if client is None:
                client = self._connect()
            return self._transaction(client, mail_from, rcpt_to, data)
        except smtplib.SMTPResponseException as exc:
            self._reset()
            _raise(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            self._drop()
            raise RelayTemporary(None, f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self) -> smtplib.SMTP:
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds, local_hostname=self.local_hostname)
        self._sessions.client = client
        client.ehlo()
        if self.starttls:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        return client

    @staticmethod
    def _transaction(client: smtplib.SMTP, mail_from: str, rcpt_to: str, data: bytes) -> str:
        for code, text in (client.mail(mail_from), client.rcpt(rcpt_to)):
            if code >= 400:
                raise smtplib.SMTPResponseException(code, text)
        code, text = client.data(data)  # smtplib returns, not raises, a refusal after the data
        if code >= 400:
            raise smtplib.SMTPResponseException(code, text)
        return text.decode(errors="replace")

    def _reset(self) -> None:
        client = getattr(self._sessions, "client", None)
        try:
            if client is not None:
                client.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        client = getattr(self._sessions, "client", None)
        self._sessions.client = None
        if client is not None:
            try:
                client.close()
            except OSError:
                pass

    def close(self) -> None:
        """Close this thread's session (politely)."""
        client = getattr(self._sessions, "client", None)
        self._sessions.client = None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def _raise(code: int, text: bytes | str) -> None:
    message = text.decode(errors="replace") if isinstance(text, bytes) else text
    if 400 <= code < 500:
        raise RelayTemporary(code, message)
    raise RelayPermanent(code, message)
