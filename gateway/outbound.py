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

    def send(self, mail_from: str, rcpt_to: str, data: bytes, *, envelope_id: str | None = None) -> str:
        """Hand *data* to the relay for *rcpt_to*; returns the relay's reply text (its queue id, usually).

        With *envelope_id*, and when the relay offers DSN (RFC 3461), the transaction asks for delivery status
        notifications of success and failure, carrying that ENVID and only the headers back (RET=HDRS).

        A kept session is used as is, without a NOOP first: if the relay has dropped it (the MAIL command
        fails to go through, or is answered 421), a new session is opened and the mail sent on it. Nothing
        was handed over before MAIL, so this can never send a mail twice.
        """
        client = getattr(self._sessions, "client", None)
        try:
            reply = self._mail(client, mail_from, envelope_id) if client is not None else None
            if reply is None:  # no session, or a stale one
                self._drop()
                client = self._connect()
                reply = client.mail(mail_from, _dsn_mail_options(client, envelope_id))
            return self._transaction(client, reply, rcpt_to, data, dsn=_asks_dsn(client, envelope_id))
        except smtplib.SMTPResponseException as exc:
            self._reset()
            _raise(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            self._drop()
            raise RelayTemporary(None, f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def offers_dsn(self) -> bool:
        """Whether this thread's session with the relay offers DSN (RFC 3461): after send(), whether the mail
        just sent asked for its delivery status notifications."""
        client = getattr(self._sessions, "client", None)
        return client is not None and client.has_extn("dsn")

    @staticmethod
    def _mail(client: smtplib.SMTP, mail_from: str, envelope_id: str | None) -> tuple[int, bytes] | None:
        """MAIL on a kept session; None when the session turns out to be gone."""
        try:
            reply = client.mail(mail_from, _dsn_mail_options(client, envelope_id))
        except (smtplib.SMTPServerDisconnected, OSError):
            return None
        return None if reply[0] == 421 else reply

    def _connect(self) -> smtplib.SMTP:
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds, local_hostname=self.local_hostname)
        self._sessions.client = client
        # Each write is a whole command or message: nothing to gain from Nagle's wait for an ACK.
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.ehlo()
        if self.starttls:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        return client

    @staticmethod
    def _transaction(client: smtplib.SMTP, mail_reply: tuple[int, bytes], rcpt_to: str, data: bytes, *,
                     dsn: bool) -> str:
        """The rest of a transaction whose MAIL was answered *mail_reply*."""
        if mail_reply[0] >= 400:
            raise smtplib.SMTPResponseException(*mail_reply)
        code, text = client.rcpt(rcpt_to, ["NOTIFY=SUCCESS,FAILURE"] if dsn else [])
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


def _asks_dsn(client: smtplib.SMTP, envelope_id: str | None) -> bool:
    return envelope_id is not None and client.has_extn("dsn")


def _dsn_mail_options(client: smtplib.SMTP, envelope_id: str | None) -> list[str]:
    """MAIL parameters asking for DSNs (RFC 3461 §4.3, §4.4), only to a relay that offers them."""
    return ["RET=HDRS", f"ENVID={xtext(envelope_id)}"] if envelope_id is not None and _asks_dsn(client, envelope_id) \
        else []


def xtext(value: str) -> str:
    """RFC 3461 §4: "+" followed by two hex digits for "+", "=" and anything outside "!".."~"."""
    return "".join(c if "!" <= c <= "~" and c not in "+=" else f"+{ord(c):02X}" for c in value)


def _raise(code: int, text: bytes | str) -> None:
    message = text.decode(errors="replace") if isinstance(text, bytes) else text
    if 400 <= code < 500:
        raise RelayTemporary(code, message)
    raise RelayPermanent(code, message)
