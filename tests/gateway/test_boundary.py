"""The ingress against hostile sessions, with real smtplib and raw-socket clients on loopback: connection slots per
client and for TLS sessions, a short life before STARTTLS, idle commands that buy no time, AUTH never offered, a
reply always one ASCII line, and a session that starts afresh after every verdict, even one that raised."""

from __future__ import annotations

import asyncio
import select
import smtplib
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from crypto import make_self_signed
from gateway import IngressHandler, Limits, replies, server_tls_context, start_server
from gateway.slots import client_of

MESSAGE = b"From: a@partner.test\r\nTo: hub@ocam.test\r\nMessage-ID: <m@partner.test>\r\n\r\nbody\r\n"


@contextmanager
def serving(tmp_path, limits: Limits, admit=None, require_starttls: bool = True):
    """A real gateway on 127.0.0.1 (STARTTLS offered and, by default, required); yields (port, handler)."""
    if not (tmp_path / "c.pem").exists():
        make_self_signed("ocam.test", tmp_path / "c.pem", tmp_path / "k.pem")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict = {}
    recorded: list = []

    async def serve() -> None:
        handler = IngressHandler(admit=admit or (lambda s: replies.ACCEPTED.format(reference="PSR-2026-000001")),
                                 accepts_rcpt=lambda a: a == "hub@ocam.test", hub_address="hub@ocam.test",
                                 executor=ThreadPoolExecutor(2), limits=limits,
                                 record_refusal=lambda peer, sender, reply: recorded.append(reply.name))
        handler.recorded = recorded
        server = await start_server(handler, "127.0.0.1", 0, require_starttls=require_starttls, hostname="ocam.test",
                                    tls_context=server_tls_context(str(tmp_path / "c.pem"), str(tmp_path / "k.pem")))
        holder.update(port=server.sockets[0].getsockname()[1], server=server, handler=handler)
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield holder["port"], holder["handler"]
    finally:
        loop.call_soon_threadsafe(holder["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _smtp(port: int, source: str = "127.0.0.1", *, starttls: bool = True) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(source, 0))
    client.ehlo("client.test")
    if starttls:
        client.starttls(context=_tls())
        client.ehlo("client.test")
    return client


class Raw:
    """A client on a bare socket that reads replies line by line (to see what the server says when it closes)."""

    def __init__(self, port: int, source: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
        self.buffer = b""
        self.greeting = self.line(10)

    def line(self, timeout: float) -> bytes | None:
        """The next reply line; b"" when the server closed; None when nothing came within *timeout*."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            try:
                chunk = self.sock.recv(4096)
            except ConnectionError:
                chunk = b""
            if not chunk:
                return b""
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def command(self, line: bytes) -> bytes:
        """Send one command; the last line of its reply (b"" when the server closed)."""
        try:
            self.sock.sendall(line + b"\r\n")
        except ConnectionError:
            return b""
        while True:
            reply = self.line(10) or b""
            if reply[3:4] != b"-":
                return reply

    def until_closed(self, *, every: float | None = None, command: bytes = b"NOOP", limit: float = 10) -> tuple[bytes, float]:
        """Send *command* every *every* seconds (or nothing) until the server closes; its last line and when."""
        started = time.monotonic()
        last = b""
        while time.monotonic() - started < limit:
            line = self.line(every or limit)
            if line is None:
                try:
                    self.sock.sendall(command + b"\r\n")
                except ConnectionError:
                    break
                continue
            if not line:
                break
            last = line
        return last, time.monotonic() - started

    def close(self) -> None:
        self.sock.close()


def test_a_reply_is_one_printable_ascii_line_whatever_the_values():
    """Values from a message (8-bit, CR/LF, NUL, a kilobyte) never reach the client as such: one ASCII line."""
    for value in ("FLASH\ufffd", "a\r\n250 forged", "\x00\x1b[31m", "é" * 2000, "\u2028x"):
        line = replies.BAD_FIELD.format(field="Urgency", value=value, accepted="FLASH").line
        assert line.isascii() and line.isprintable() and "\r" not in line and "\n" not in line
        assert len(line) <= 512 - 2 and line.startswith("550 5.6.0 Invalid Urgency")


def test_the_session_starts_afresh_after_a_verdict_that_raised(tmp_path):
    """A handler that raises gets 451 (the hub's trouble); the next MAIL in the same session works (no 503)."""
    calls = []

    def admit(submission):
        calls.append(submission.raw)
        if len(calls) % 2:
            raise KeyError("the hub's own bug")
        return replies.ACCEPTED.format(reference="PSR-2026-000002")

    with serving(tmp_path, Limits(), admit) as (port, _handler), _smtp(port) as client:
        for _ in range(3):
            client.mail("a@partner.test")
            client.rcpt("hub@ocam.test")
            code, text = client.data(MESSAGE)
            assert (code, text) == (451, b"4.3.0 Local error while processing, try again later")
            assert client.mail("a@partner.test")[0] == 250
            client.rcpt("hub@ocam.test")
            assert client.data(MESSAGE)[0] == 250


@pytest.mark.parametrize("argument", [b"<", b"%@[ <.%=?", b"a@[\t", b"<<>", b"<a@[>"])
def test_addresses_the_address_parser_fails_on_are_malformed_not_a_local_error(tmp_path, argument):
    """email's address parser (which aiosmtpd uses) raises IndexError, AttributeError or UnboundLocalError on
    some MAIL and RCPT arguments: each is answered 5xx (553 malformed address, 501 syntax), and the session goes on."""
    with serving(tmp_path, Limits(), require_starttls=False) as (port, _handler):
        client = Raw(port)
        client.command(b"EHLO client.test")
        assert client.command(b"MAIL FROM:" + argument)[:2] in (b"55", b"50")
        assert client.command(b"MAIL FROM:<a@partner.test>").startswith(b"250")
        assert client.command(b"RCPT TO:" + argument)[:2] in (b"55", b"50")
        assert client.command(b"RCPT TO:<hub@ocam.test>").startswith(b"250")
        client.close()


def test_auth_is_neither_offered_nor_accepted(tmp_path):
    """After STARTTLS, EHLO lists no AUTH (a client would ask its user for a password that can only fail);
    AUTH itself is answered 502 with a reason, and mail goes through without it."""
    with serving(tmp_path, Limits()) as (port, _handler), _smtp(port) as client:
        assert not client.has_extn("auth") and client.has_extn("size")
        for mechanism in (b"AUTH PLAIN AHNwb2MAc2VjcmV0", b"AUTH LOGIN", b"AUTH CRAM-MD5"):
            code, text = client.docmd(mechanism.decode())
            assert code == 502 and b"5.5.1 AUTH is not offered" in text
        assert client.sendmail("a@partner.test", ["hub@ocam.test"], MESSAGE) == {}


def test_one_client_holds_at_most_its_share_of_connections(tmp_path):
    """64 idle plaintext connections from one address: the first 8 are greeted, the rest told 421 why; a
    partner from another address still connects, does STARTTLS and delivers."""
    with serving(tmp_path, Limits(max_connections=64, max_connections_per_client=8)) as (port, _handler):
        idle = [Raw(port, "127.0.0.2") for _ in range(64)]
        try:
            greeted = [c for c in idle if c.greeting.startswith(b"220")]
            refused = [c for c in idle if c.greeting.startswith(b"421")]
            assert len(greeted) == 8 and len(refused) == 56
            assert b"4.7.0 Too many connections from your address (at most 8)" in refused[0].greeting
            with _smtp(port, "127.0.0.1") as partner:
                assert partner.sendmail("a@partner.test", ["hub@ocam.test"], MESSAGE) == {}
        finally:
            for c in idle:
                c.close()


def test_idle_plaintext_sessions_cannot_take_the_slots_of_tls_sessions(tmp_path):
    """Plaintext sessions from many addresses fill their share: each newcomer closes the one that waited
    longest (421), so a partner always gets in, completes STARTTLS and delivers; sessions in TLS keep the
    reserve and are never closed for a newcomer."""
    limits = Limits(max_connections=12, max_connections_per_client=8, tls_reserved_connections=4)
    with serving(tmp_path, limits) as (port, _handler):
        in_tls = [_smtp(port, f"127.0.1.{i}") for i in range(3)]
        idle = [Raw(port, f"127.0.0.{2 + i % 5}") for i in range(20)]
        try:
            assert all(c.greeting.startswith(b"220") for c in idle)
            evicted = [c for c in idle[:12] if c.until_closed(limit=2)[0].startswith(b"421 4.7.0 Closing the session")]
            assert len(evicted) == 12  # share of 8 before STARTTLS: the 12 oldest made room for the 8 newest
            with _smtp(port, "127.0.0.1") as partner:
                assert partner.sendmail("a@partner.test", ["hub@ocam.test"], MESSAGE) == {}
            for client in in_tls:
                assert client.noop()[0] == 250
                assert client.sendmail("a@partner.test", ["hub@ocam.test"], MESSAGE) == {}
        finally:
            for c in idle:
                c.close()
            for c in in_tls:
                c.close()


@pytest.mark.parametrize("command", [b"NOOP", b"EHLO client.test", b"RSET", b"HELP"])
def test_before_starttls_a_session_has_a_short_life_that_no_command_extends(tmp_path, command):
    """A session that must STARTTLS and keeps sending NOOP (or EHLO, RSET, HELP) is closed with 421 when its
    short life is over, not at the idle timeout."""
    limits = Limits(starttls_within_seconds=1.0, timeout_seconds=30)
    with serving(tmp_path, limits) as (port, _handler):
        client = Raw(port)
        client.command(b"EHLO client.test")
        last, after = client.until_closed(every=0.25, command=command)
        client.close()
    assert last.startswith(b"421 4.7.0 No STARTTLS within 1 seconds") and 0.9 < after < 5, (last, after)


def test_idle_commands_do_not_push_back_the_idle_timeout(tmp_path):
    """After STARTTLS, a NOOP every 0.25 s does not keep a session past the idle timeout: 421 4.4.2 at about
    the timeout, while a session that sends mail is not closed."""
    limits = Limits(timeout_seconds=1.5)
    with serving(tmp_path, limits) as (port, _handler):
        client = _smtp(port)
        started = time.monotonic()
        with pytest.raises(smtplib.SMTPServerDisconnected):
            for _ in range(40):
                code, text = client.noop()
                if code == 421:
                    assert b"4.4.2 Idle for 1.5 seconds" in text
                    raise smtplib.SMTPServerDisconnected("closed")
                time.sleep(0.25)
        assert 1.3 < time.monotonic() - started < 4
        with _smtp(port) as working:
            for _ in range(4):
                assert working.sendmail("a@partner.test", ["hub@ocam.test"], MESSAGE) == {}
                time.sleep(0.5)


@pytest.mark.parametrize("error", [b"RCPT TO:<nobody@elsewhere.test>", b"NO-SUCH-COMMAND", b"DATA", b"VRFY",
                                   b"MAIL FROM:<a@partner.test> BODY=NONSENSE"])
def test_a_session_of_errors_is_closed_at_the_limit_and_recorded_once(tmp_path, error):
    """1,000 errors in one session: at the 4th 5xx the session is closed with 421, and that closure is
    recorded once (the refusals before it are each recorded, as one would expect, at most 4)."""
    limits = Limits(max_session_errors=4)
    with serving(tmp_path, limits, require_starttls=False) as (port, handler):
        client = Raw(port)
        client.command(b"EHLO client.test")
        if error.startswith(b"RCPT"):
            client.command(b"MAIL FROM:<a@partner.test>")
        answers = []
        for _ in range(1000):
            try:
                line = client.command(error)
            except ConnectionError:
                break
            if not line:
                break
            answers.append(line)
            if line.startswith(b"421"):
                break
        client.close()
    assert answers[-1].startswith(b"421 4.7.0 Too many errors in this session (4)"), answers
    assert len(answers) == 5 and all(a[:1] == b"5" for a in answers[:-1]), answers
    time.sleep(0.2)
    assert handler.recorded.count("too_many_errors") == 1 and len(handler.recorded) <= 5, str(handler.recorded)


def test_clients_are_counted_by_ipv4_address_and_ipv6_prefix():
    assert client_of(("127.0.0.2", 4000)) == "127.0.0.2"
    assert client_of(("::ffff:192.0.2.7", 1, 0, 0)) == "192.0.2.7"
    assert client_of(("2001:db8:1:2:aaaa::1", 1, 0, 0)) == client_of(("2001:db8:1:2:bbbb::9", 1, 0, 0))
    assert client_of(("2001:db8:1:3::1", 1, 0, 0)) != client_of(("2001:db8:1:2::1", 1, 0, 0))


def test_long_lines_are_found_window_by_window_as_a_split_finds_them():
    """gateway.data.has_long_line (no object per line) against the split it replaced, on random mixes of CRLF,
    bare CR, bare LF and runs of text at and around the limit."""
    import random

    from gateway.data import has_long_line

    def by_split(data: bytes, limit: int) -> bool:
        return bool(data) and max(map(len, data.split(b"\r\n"))) + 2 > limit

    rng = random.Random(5321)
    for _ in range(20_000):
        limit = rng.randint(3, 40)
        pieces = [b"\r\n", b"\r", b"\n", b"x" * rng.randint(0, limit + 2), b"a", b"\r\n\r\n"]
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert has_long_line(data, limit) == by_split(data, limit), (data, limit)
