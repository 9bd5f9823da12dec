"""The SMTP client for outbound mail: one message to the relay (smart host), errors classified."""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass

from .errors import RelayPermanent, RelayTemporary


@dataclass(frozen=True)
class Relay:
    """Where the hub's mail goes."""

    host: str
    port: int
    starttls: bool = False
    timeout_seconds: float = 30.0
    local_hostname: str | None = None

    def send(self, mail_from: str, rcpt_to: str, data: bytes) -> str:
        """Hand *data* to the relay for *rcpt_to*; returns the relay's reply text (its queue id, usually)."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds,
                              local_hostname=self.local_hostname) as client:
                client.ehlo()
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                code, text = client.mail(mail_from)
                if code >= 400:
                    _raise(code, text)
                code, text = client.rcpt(rcpt_to)
                if code >= 400:
                    _raise(code, text)
                code, text = client.data(data)
                if code >= 400:
                    _raise(code, text)
                return text.decode(errors="replace")
        except smtplib.SMTPResponseException as exc:
            _raise(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise RelayTemporary(None, f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover


def _raise(code: int, text: bytes | str) -> None:
    message = text.decode(errors="replace") if isinstance(text, bytes) else text
    if 400 <= code < 500:
        raise RelayTemporary(code, message)
    raise RelayPermanent(code, message)
