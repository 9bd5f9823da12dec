"""The SMTP ingress: an aiosmtpd handler that gives its verdict at DATA time, and the server around it."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, syntax

from .data import DataState, read_data

from . import replies
from .replies import Reply

log = logging.getLogger(__name__)

_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux
_ADDRESSES: dict[tuple[str, int], tuple] = {}  # MAIL and RCPT arguments, parsed (on the event loop only)
_ADDRESSES_KEPT = 4096


@dataclass(frozen=True)
class Submission:
    """What a client handed over in one SMTP transaction, as received."""

    raw: bytes
    mail_from: str
    rcpt_tos: tuple[str, ...]
    peer: str
    tls: bool
    helo: str | None = None


@dataclass
class Limits:
    """The gateway's own limits (the MIME limits are the admission's)."""

    max_message_bytes: int = 25 * 1024 * 1024
    max_connections: int = 64
    timeout_seconds: float = 300.0


@dataclass
class IngressHandler:
    """aiosmtpd hooks: RCPT checks the address, DATA runs the admission off the event loop."""

    admit: Callable[[Submission], Reply]
    accepts_rcpt: Callable[[str], bool]
    hub_address: str
    executor: Executor
    record_refusal: Callable[[str, str, Reply], None] = lambda peer, mail_from, reply: None
    limits: Limits = field(default_factory=Limits)
    active: int = 0  # SMTP sessions open on this server now

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not self.accepts_rcpt(address):
            reply = replies.NO_SUCH_RECIPIENT.format(address=self.hub_address)
            await self._record(session, envelope, reply)
            return reply.line
        envelope.rcpt_tos.append(address)
        return replies.RCPT_OK.line

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        submission = Submission(
            raw=envelope.original_content or b"",
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            peer=_peer(session),
            tls=session.ssl is not None,
            helo=session.host_name,
        )
        loop = asyncio.get_running_loop()
        reply = await loop.run_in_executor(self.executor, self.admit, submission)
        return reply.line

    async def handle_exception(self, error: Exception) -> str:
        log.error("gateway: unexpected %s in an SMTP session", type(error).__name__, exc_info=error)
        return replies.LOCAL_ERROR.line

    async def _record(self, session: Session, envelope: Envelope, reply: Reply) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, self.record_refusal, _peer(session), envelope.mail_from or "", reply)


def _peer(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple):
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class GatewaySMTP(SMTP):
    """aiosmtpd's SMTP with enhanced status codes on its own refusals and a connection cap."""

    def __init__(self, handler: IngressHandler, **kwargs) -> None:
        super().__init__(handler, **kwargs)
        self._ingress = handler
        self._own_replies = {
            "552 Error: Too much mail data": replies.TOO_LARGE.format(limit=handler.limits.max_message_bytes),
            "552 Error: message size exceeds fixed maximum message size": replies.TOO_LARGE.format(
                limit=handler.limits.max_message_bytes),
            "530 Must issue a STARTTLS command first": replies.STARTTLS_FIRST,
            "500 Line too long (see RFC5321 4.5.3.1.6)": replies.LINE_TOO_LONG,
        }

    def connection_made(self, transport) -> None:
        sock = transport.get_extra_info("socket")
        self._quickack = sock if _QUICKACK is not None and sock is not None else None
        counted = getattr(self, "_counted", False)  # STARTTLS calls connection_made again for the TLS transport
        self._counted = True
        if not counted:
            self._ingress.active += 1
        super().connection_made(transport)
        if not counted and self._ingress.active > self._ingress.limits.max_connections:
            transport.write(f"{replies.TOO_MANY_CONNECTIONS.line}\r\n".encode())
            transport.close()

    def data_received(self, data: bytes) -> None:
        # Acknowledge at once what arrived: a client whose TCP holds back the small tail of a message
        # until the previous segment is acknowledged (Nagle) would otherwise wait for the delayed-ACK
        # timer (40 ms on Linux) on every message. Linux resets the mode by itself, so it is set again
        # on every read.
        if self._quickack is not None:
            try:
                self._quickack.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:
                self._quickack = None
        super().data_received(data)

    def connection_lost(self, error) -> None:
        if getattr(self, "_counted", False):
            self._counted = False
            self._ingress.active -= 1
        super().connection_lost(error)

    def _getaddr(self, arg: str):
        # aiosmtpd parses the address of every MAIL and RCPT with email's header parser and builds a typing
        # Protocol class on each call (about a tenth of the gateway's CPU per message). The parse depends
        # on the argument alone and contact points send the same ones over and over: keep the answers.
        key = (arg, self.local_part_limit)
        known = _ADDRESSES.get(key)
        if known is None:
            known = super()._getaddr(arg)
            if len(_ADDRESSES) >= _ADDRESSES_KEPT:
                _ADDRESSES.clear()
            _ADDRESSES[key] = known
        return known

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, with the content read in bulk (gateway/data.py) instead of line by line."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            data = await read_data(self._reader, size_limit=self.data_size_limit, line_limit=self.line_length_limit)
        except asyncio.CancelledError:  # the connection went away during DATA
            log.info("gateway: connection lost during DATA")
            self._writer.close()
            raise
        if data.state is not DataState.NOMINAL:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)" if data.state is DataState.TOO_LONG
                            else "552 Error: Too much mail data")
            self._set_post_data_state()
            return
        self.envelope.content = self.envelope.original_content = data.content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def push(self, status) -> None:
        text = status.decode() if isinstance(status, bytes) else status
        reply = self._own_replies.get(text)
        if reply is not None:
            if reply.code >= 500 and reply is not replies.STARTTLS_FIRST:
                await self._ingress._record(self.session, self.envelope, reply)
            text = reply.line
        await super().push(text)


async def start_server(handler: IngressHandler, host: str, port: int, *, tls_context: ssl.SSLContext | None,
                       require_starttls: bool, hostname: str) -> asyncio.AbstractServer:
    """Listen on HOST:PORT in the running loop; STARTTLS offered when a TLS context is given."""
    loop = asyncio.get_running_loop()

    def factory() -> GatewaySMTP:
        return GatewaySMTP(
            handler,
            hostname=hostname,
            tls_context=tls_context,
            require_starttls=require_starttls and tls_context is not None,
            data_size_limit=handler.limits.max_message_bytes,
            timeout=handler.limits.timeout_seconds,
            enable_SMTPUTF8=False,
            decode_data=False,
            ident="Passerelle ESMTP",
        )

    return await loop.create_server(factory, host=host, port=port)


def server_tls_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    """TLS 1.2+ server context for STARTTLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context
