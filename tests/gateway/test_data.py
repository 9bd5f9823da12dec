"""DATA read in bulk (gateway/data.py) against aiosmtpd's own line-by-line DATA, on the same bytes.

Both servers listen on loopback; one raw-socket client sends each case to each, in pieces, and the
reply and the content the handler received must be the same. The cases include the SMTP smuggling
sequences (a dot between a bare LF or a bare CR and a CRLF), dot-stuffing, the end as the first line,
lines at and over the length limit, content over the size limit, commands pipelined after the end,
and a few hundred random mixes of CR, LF, dots and text.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiosmtpd.smtp import SMTP

from gateway import IngressHandler, Limits, replies, start_server
import gateway.data as data_module
from gateway.data import read_data

SIZE_LIMIT = 5000
END = b"\r\n.\r\n"


class _Stock:
    """aiosmtpd's own DATA: what the gateway's must match."""

    def __init__(self, received: list[bytes]) -> None:
        self.received = received

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.append(envelope.original_content)
        return "250 2.0.0 OK"


@pytest.fixture(scope="module")
def servers():
    """(port of the gateway, its received contents), (port of stock aiosmtpd, its received contents)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict = {"gateway": [], "stock": []}

    def admit(submission):
        holder["gateway"].append(submission.raw)
        return replies.ACCEPTED.format(reference="PSR-2026-000001")

    async def serve() -> None:
        handler = IngressHandler(admit=admit, accepts_rcpt=lambda a: True, hub_address="hub@ocam.test",
                                 executor=ThreadPoolExecutor(1), limits=Limits(max_message_bytes=SIZE_LIMIT))
        ours = await start_server(handler, "127.0.0.1", 0, tls_context=None, require_starttls=False,
                                  hostname="ocam.test")
        stock = await loop.create_server(
            lambda: SMTP(_Stock(holder["stock"]), hostname="ocam.test", data_size_limit=SIZE_LIMIT,
                         decode_data=False, enable_SMTPUTF8=False), host="127.0.0.1", port=0)
        holder["servers"] = (ours, stock)
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(10)
    ours, stock = holder["servers"]
    yield ((ours.sockets[0].getsockname()[1], holder["gateway"]),
           (stock.sockets[0].getsockname()[1], holder["stock"]))
    for server in (ours, stock):
        loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


class _Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.replies = self.sock.makefile("rb")
        self.reply()  # greeting
        self.command(b"EHLO client.test")

    def reply(self) -> tuple[int, bytes]:
        while True:
            line = self.replies.readline()
            assert line, "connection closed"
            if line[3:4] != b"-":
                return int(line[:3]), line[4:].strip()

    def command(self, line: bytes) -> tuple[int, bytes]:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def transaction(self, content: bytes, pieces: list[int], after: bytes = b"") -> tuple[int, bytes]:
        assert self.command(b"MAIL FROM:<a@partner.test>")[0] == 250
        assert self.command(b"RCPT TO:<hub@ocam.test>")[0] == 250
        assert self.command(b"DATA")[0] == 354
        start = 0
        for size in pieces + [len(content)]:
            if start >= len(content):
                break
            self.sock.sendall(content[start:start + size])
            start += size
        if after:  # pipelined behind the end of data, in the same segment when the stack allows
            self.sock.sendall(after)
        return self.reply()

    def close(self) -> None:
        self.sock.close()


def _both(servers, content: bytes, pieces: list[int] | None = None, after: bytes = b""):
    outcomes = []
    for port, received in servers:
        client = _Client(port)
        try:
            before = len(received)
            code, _ = client.transaction(content, pieces or [], after)
            got = received[before] if len(received) > before else None
            follow = client.reply()[0] if after else None
            outcomes.append((code // 100, got, follow))
        finally:
            client.close()
    return outcomes


CASES = {
    "empty content": b".\r\n",
    "one line": b"a\r\n.\r\n",
    "one empty line": b"\r\n.\r\n",
    "dot-stuffed lines": b"..dot\r\n..\r\nx\r\n...\r\n.\r\n",
    "dot after a bare LF is data": b"x\n.\r\nstill data\r\n.\r\n",
    "dot after a bare CR is data": b"x\r.\r\nstill data\r\n.\r\n",
    "dot then bare LF is data": b"x\r\n.\n\r\n.\r\n",
    "dot-space is data": b"x\r\n. \r\n.\r\n",
    "lines ending with a dot": b"ends.\r\nalso ends.\r\n.\r\n",
    "a line at the limit": b"A" * 999 + END,
    "a line over the limit": b"A" * 1000 + END,
    "a very long line": b"B" * 4000 + END,
    "content over the size limit": b"".join(b"%058d\r\n" % i for i in range(100)) + b".\r\n",
    "content just at the size limit": b"C" * 998 + b"\r\n" + b"D" * 998 + b"\r\n" + b"E" * 998 + b"\r\n"
                                      + b"F" * 998 + b"\r\n" + b"G" * 998 + b"\r\n" + b".\r\n",
    "crlf crlf dot": b"x\r\n\r\n.\r\n",
    "short lines, then lines ending with a dot": b"a\r\n" * 5 + b"x.\r\n" * 5 + b".\r\n",
    "short lines and lines ending with a dot in turn": b"a\r\nb.\r\n" * 5 + b".\r\n",
    "blank lines, then a dot line": b"\r\n" * 5 + b"x.\r\n.\r\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gateway_data_reads_like_aiosmtpd(servers, name):
    content = CASES[name]
    ours, stock = _both(servers, content)
    assert ours == stock
    for pieces in ([1] * 12, [2, 3, 5, 7]):  # the end sequence split over reads
        assert _both(servers, content, pieces) == [stock, stock]


def test_the_outcome_is_what_a_client_expects(servers):
    """Not only the same as aiosmtpd: the replies and contents a client is owed."""
    gateway = servers[:1]
    assert _both(gateway, CASES["dot-stuffed lines"]) == [(2, b".dot\r\n.\r\nx\r\n..\r\n", None)]
    assert _both(gateway, CASES["dot after a bare LF is data"]) == [(2, b"x\n.\r\nstill data\r\n", None)]
    assert _both(gateway, CASES["empty content"]) == [(2, b"", None)]
    assert _both(gateway, CASES["a line over the limit"])[0][:2] == (5, None)
    assert _both(gateway, CASES["content over the size limit"])[0][:2] == (5, None)


def test_commands_pipelined_after_the_end_are_answered(servers):
    ours, stock = _both(servers, b"first\r\n.\r\n", after=b"RSET\r\n")
    assert ours == stock == (2, b"first\r\n", 250)


def _random_cases() -> list[tuple[bytes, list[int]]]:
    """A few hundred random mixes of CR, LF, dots, CRLF and text (each one message), split at random points."""
    rng = random.Random(20261122)
    tokens = [b"\r", b"\n", b".", b"..", b"a", b"text", b"\r\n", b"\r\n.", b".\r\n", b"\r\n.\r", b"\n.\r\n"]
    cases = []
    while len(cases) < 300:
        body = b"".join(rng.choice(tokens) for _ in range(rng.randint(0, 40)))
        if END in b"\r\n" + body:  # it would end early, and the rest would be read as commands
            continue
        cases.append((body + END, [rng.randint(1, 9) for _ in range(8)]))
    return cases


def test_random_mixes(servers):
    for content, pieces in _random_cases():
        ours, stock = _both(servers, content, pieces)
        assert ours == stock, content


class _CountingReader(asyncio.StreamReader):
    """A stream reader that counts the reads made of it."""

    def __init__(self) -> None:
        super().__init__(limit=2**16)
        self.reads = 0

    async def readuntil(self, separator=b"\n"):
        self.reads += 1
        return await super().readuntil(separator)

    async def readexactly(self, n):
        self.reads += 1
        return await super().readexactly(n)


def _read_in_pieces(content: bytes, pieces: list[int]) -> tuple[int, str, bytes]:
    """Reads made, state and content of read_data over *content* fed in *pieces* (then the rest), the event loop
    running between two pieces so that the reader sometimes holds only part of an end sequence."""
    async def read() -> tuple[int, str, bytes]:
        reader = _CountingReader()

        async def feed() -> None:
            start = 0
            for size in pieces + [len(content)]:
                reader.feed_data(content[start:start + size])
                start += size
                await asyncio.sleep(0)

        feeding = asyncio.ensure_future(feed())
        data = await read_data(reader, size_limit=SIZE_LIMIT * 400, line_limit=1000)
        await feeding
        return reader.reads, data.state.value, data.content

    return asyncio.run(read())


def test_lines_ending_in_a_dot_cost_no_read_of_their_own():
    """Prose ends its lines with a full stop: 300 such lines are a few reads (the few bytes after a CRLF that could
    begin the end sequence, then up to it), not one read per line as when the rest of the end sequence was looked
    for after every line end; nor do short lines, blank lines or the two in turn cost a read each."""
    for line in (b"A sentence that ends its line with a full stop.\r\n", b"x.\r\n", b"a\r\n", b"\r\n",
                 b"a\r\nb.\r\n"):
        for first in (b"", b"a\r\n"):
            content = first + line * 300
            reads, state, got = _read_in_pieces(content + b".\r\n", [])
            assert (state, got) == ("nominal", content)
            assert reads <= 4, (line, first, reads)


def test_without_a_look_at_the_buffer_the_content_is_the_same(monkeypatch):
    """Where the reader's buffer cannot be looked at, every partial end is settled by reading its next bytes:
    slower, and the same outcome on every case, whole or in pieces."""
    cases = [(content, []) for content in CASES.values()] + [(content, [1] * 12) for content in CASES.values()]
    cases += _random_cases()
    looked = [_read_in_pieces(content, pieces)[1:] for content, pieces in cases]
    monkeypatch.setattr(data_module, "_may_go_on", lambda reader, rest: True)
    assert [_read_in_pieces(content, pieces)[1:] for content, pieces in cases] == looked
