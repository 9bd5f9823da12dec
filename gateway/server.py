"""The SMTP ingress: an aiosmtpd handler that gives its verdict at DATA time, and the server around it."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, syntax

from .data import DataState, read_data
from .limits import Limits

from . import replies
from .replies import Reply
from .slots import Slots, client_of

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


# Commands that move no transaction on: they do not push back the idle timeout (a NOOP every few minutes
# must not keep a slot for ever).
IDLE_COMMANDS = ("NOOP", "RSET", "HELP", "VRFY", "EXPN", "EHLO", "HELO")


@dataclass
class IngressHandler:
    """aiosmtpd hooks: RCPT checks the address, DATA runs the admission off the event loop."""

    admit: Callable[[Submission], Reply]
    accepts_rcpt: Callable[[str], bool]
    hub_address: str
    executor: Executor
    record_refusal: Callable[[str, str, Reply], None] = lambda peer, mail_from, reply: None
    limits: Limits = field(default_factory=Limits)
    slots: Slots = field(init=False)

    def __post_init__(self) -> None:
        self.slots = Slots(self.limits.max_connections, self.limits.max_connections_per_client,
                           self.limits.tls_reserved_connections)

    @property
    def active(self) -> int:
        """SMTP sessions open on this server now."""
        return self.slots.active

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        """EHLO without AUTH: nothing here authenticates a client (the OpenPGP signature identifies the sender),
        and a client offered AUTH asks its user for a password that can only fail."""
        session.host_name = hostname
        return [line for line in responses if not line.startswith("250-AUTH")]

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
    """aiosmtpd's SMTP with enhanced status codes on its own refusals, connection slots, a short life before
    STARTTLS, an idle timeout that idle commands do not push back, and an end to sessions of errors."""

    def __init__(self, handler: IngressHandler, **kwargs) -> None:
        super().__init__(handler, auth_exclude_mechanism=("LOGIN", "PLAIN"), **kwargs)
        self._ingress = handler
        self._own_replies = {
            "552 Error: Too much mail data": replies.TOO_LARGE.format(limit=handler.limits.max_message_bytes),
            "552 Error: message size exceeds fixed maximum message size": replies.TOO_LARGE.format(
                limit=handler.limits.max_message_bytes),
            "530 Must issue a STARTTLS command first": replies.STARTTLS_FIRST,
            "500 Line too long (see RFC5321 4.5.3.1.6)": replies.LINE_TOO_LONG,
        }
        self._client: str | None = None  # the client this session counts against, once counted
        self._life: asyncio.TimerHandle | None = None
        self._deadline: float | None = None  # when the idle timeout falls
        self._before: float | None = None  # the deadline before the latest command
        self._errors = 0
        for name in IDLE_COMMANDS:
            if name in self._smtp_methods:
                self._smtp_methods[name] = self._idle(self._smtp_methods[name])

    def connection_made(self, transport) -> None:
        sock = transport.get_extra_info("socket")
        self._quickack = sock if _QUICKACK is not None and sock is not None else None
        if self._client is not None:  # STARTTLS calls connection_made again, for the TLS transport
            self._ingress.slots.tls_done(self)
            if self._life is not None:
                self._life.cancel()
            super().connection_made(transport)
            return
        self._client = client_of(transport.get_extra_info("peername"))
        pre_tls = bool(self.require_starttls)
        refusal = self._ingress.slots.take(self._client, self if pre_tls else None)
        super().connection_made(transport)
        if refusal is not None:
            transport.write(f"{refusal.line}\r\n".encode())
            transport.close()
        elif pre_tls:
            self._life = self.loop.call_later(self._ingress.limits.starttls_within_seconds, self._starttls_overdue)

    def evict(self) -> None:
        """Slots before STARTTLS are full and a new client came: this session, the longest waiting, makes room."""
        log.info("gateway: %s waited longest for STARTTLS; closed to make room", _peer(self.session))
        self._close_with(replies.MAKING_ROOM)

    def _starttls_overdue(self) -> None:
        """A session that must STARTTLS and has not done so in its short life is closed (NOOP does not help)."""
        log.info("gateway: no STARTTLS from %s within %g s; closing", _peer(self.session),
                 self._ingress.limits.starttls_within_seconds)
        self._close_with(replies.STARTTLS_TOO_LATE.format(seconds=f"{self._ingress.limits.starttls_within_seconds:g}"))

    def _timeout_cb(self) -> None:
        self._close_with(replies.IDLE_TIMEOUT.format(seconds=f"{self._timeout_duration:g}"))

    def _close_with(self, reply: Reply) -> None:
        """Say why (unless a TLS handshake is under way, where plaintext would break it) and close; commands the
        client sent meanwhile are not read (as aiosmtpd drops them at STARTTLS)."""
        if self.transport is None:
            return
        if self._tls_protocol is None or (self.session is not None and self.session.ssl is not None):
            self._writer.write(f"{reply.line}\r\n".encode())
        self.transport.close()
        self._reader._buffer.clear()
        if self._handler_coroutine is not None:
            self._handler_coroutine.cancel()

    def _reset_timeout(self, duration: float | None = None) -> None:
        self._before = self._deadline
        super()._reset_timeout(duration)
        self._deadline = self.loop.time() + (duration or self._timeout_duration)

    def _idle(self, method):
        """*method* run with the idle timeout left where the command found it."""
        @functools.wraps(method)
        async def idle(arg):
            if self._before is not None and self._timeout_handle is not None:
                self._timeout_handle.cancel()
                self._timeout_handle = self.loop.call_at(self._before, self._timeout_cb)
                self._deadline = self._before
            await method(arg)
        return idle

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
        if self._client is not None:
            self._ingress.slots.release(self._client, self)
            self._client = None
        if self._life is not None:
            self._life.cancel()
        super().connection_lost(error)

    def _getaddr(self, arg: str):
        # aiosmtpd parses the address of every MAIL and RCPT with email's header parser and builds a typing
        # Protocol class on each call (about a tenth of the gateway's CPU per message). The parse depends
        # on the argument alone and contact points send the same ones over and over: keep the answers.
        # That parser also fails on some crafted arguments ("<", "a@[\t") with IndexError, AttributeError or
        # UnboundLocalError instead of HeaderParseError: those are malformed addresses too (553), not a fault
        # of the hub (451).
        key = (arg, self.local_part_limit)
        known = _ADDRESSES.get(key)
        if known is None:
            try:
                known = super()._getaddr(arg)
            except (LookupError, AttributeError, NameError, ValueError, TypeError):
                known = (None, None)
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
        try:
            status = await self._call_handler_hook("DATA")
        finally:  # a verdict, or the handler raised (handle_exception answers): the next MAIL starts afresh
            self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        await self.push(replies.AUTH_NOT_OFFERED.line)

    async def push(self, status) -> None:
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else status
        reply = self._own_replies.get(text)
        if reply is not None:
            if reply.code >= 500 and reply is not replies.STARTTLS_FIRST:
                await self._ingress._record(self.session, self.envelope, reply)
            text = reply.line
        await super().push(text.encode("ascii", "replace"))
        if text[:1] == "5":
            await self._count_error()

    async def _count_error(self) -> None:
        """Every 5xx counts; at the limit the session is closed, and that is recorded once."""
        self._errors += 1
        limit = self._ingress.limits.max_session_errors
        if self._errors != limit or self.transport is None:
            return
        reply = replies.TOO_MANY_ERRORS.format(limit=limit)
        log.info("gateway: %d errors from %s; closing", limit, _peer(self.session))
        await self._ingress._record(self.session, self.envelope, reply)
        self._close_with(reply)


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
