"""Reading the content of an SMTP DATA command (RFC 5321 §4.1.1.4, §4.5.2) in bulk, not line by line.

aiosmtpd reads DATA one line at a time: a 20 KB message is some 300 reads, each with its own
bookkeeping, and that was the largest single cost of the gateway. Here the stream is read up to the
end-of-data sequence CRLF "." CRLF in as few reads as the stream reader's buffer allows, and the
result is checked and unstuffed in one pass each. What counts as the end, as a line and as too much
is what aiosmtpd decides (tests/gateway/test_data.py compares the two on the same bytes):

- a line is what ends with CRLF; a bare CR or a bare LF is data, never a line end, so
  ``LF "." CRLF`` or ``CR "." CRLF`` does not end the message (the "SMTP smuggling" sequences);
- the content ends at the first line that is exactly "." CRLF, the first line included;
- a line longer than *line_limit* (CRLF included) or content beyond *size_limit* is read to the end
  of the data and then refused; past the size limit nothing more is kept in memory;
- a line starting with "." loses that dot (transparency, RFC 5321 §4.5.2).
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

CRLF = b"\r\n"
END = b"\r\n.\r\n"  # the end of data; its CRLF ends the last line and belongs to the content


class DataState(enum.Enum):
    NOMINAL = "nominal"
    TOO_LONG = "too long"  # a line over the line limit
    TOO_MUCH = "too much"  # content over the size limit


@dataclass(frozen=True)
class Data:
    state: DataState
    content: bytes  # unstuffed; empty unless NOMINAL


def _partial_end(tail: bytes | bytearray) -> int:
    """The length of the longest suffix of *tail* that is a proper beginning of the end sequence."""
    for n in range(min(len(tail), len(END) - 1), 0, -1):
        if END.startswith(tail[-n:]):
            return n
    return 0


def _may_go_on(reader: asyncio.StreamReader, rest: bytes) -> bool:
    """Whether the bytes already buffered in *reader* may begin with *rest* (all of them, when none are).

    asyncio's StreamReader has no peek: its buffer is read here (``_buffer``, a bytearray in every CPython since
    3.4, which aiosmtpd itself clears at STARTTLS), never changed. Without it every partial end would be settled
    by a read of a few bytes: 24 MB of short lines, millions of reads in the event loop (tests/gateway/test_data.py
    counts the reads, and fails if this buffer is ever gone)."""
    buffered = getattr(reader, "_buffer", None)
    if not isinstance(buffered, bytearray):
        return True
    return rest.startswith(bytes(buffered[:len(rest)]))


def has_long_line(data: bytes | bytearray, line_limit: int) -> bool:
    """Whether a line of *data* is longer than *line_limit*, its CRLF included (a last line without one
    counts as if its CRLF were still to come).

    A window of the longest line allowed (and its CRLF) is searched for its last CRLF: none, and the line is too
    long; else the next window starts after it, at least a window further on. Work and memory are bounded by the
    size of the data, whatever the number of lines (a split would make one object per line: 8 million for
    24 MB of short lines)."""
    longest = line_limit - 2  # the longest line allowed, without its CRLF
    at, end = 0, len(data)
    while at + longest + 2 <= end:
        crlf = data.rfind(CRLF, at, at + longest + 2)
        if crlf == -1:
            return True
        at = crlf + 2
    crlf = data.rfind(CRLF, at, end)
    return end - (at if crlf == -1 else crlf + 2) > longest


def _over_size(kept: bytearray, size_limit: int, line_limit: int) -> DataState:
    """Content past the size limit is refused as too much, unless a line too long came first."""
    return DataState.TOO_LONG if has_long_line(kept[:size_limit], line_limit) else DataState.TOO_MUCH


async def read_data(reader: asyncio.StreamReader, *, size_limit: int | None, line_limit: int) -> Data:
    """Read DATA content from *reader*, positioned just after the 354 reply, through its end sequence."""
    kept = bytearray()  # the content as read, while within the size limit
    state = DataState.NOMINAL
    # Bytes of the stream just before what is read next (the content starts a line: as if after a CRLF).
    tail = bytearray(CRLF)
    while True:
        started = _partial_end(tail)
        if started and _may_go_on(reader, END[started:]):
            # What was read so far ends part of the way into an end sequence (a CRLF ends most reads), and what is
            # buffered does not rule the rest of it out: the next few bytes say whether this is the end (the
            # sequence cannot end anywhere else in them: it would have begun in a longer partial end).
            more = await reader.readexactly(len(END) - started)
            finished = more == END[started:]
        else:
            # No end sequence begins in what was read: read up to the first whole one.
            try:
                more = await reader.readuntil(END)
                finished = True
            except asyncio.LimitOverrunError as overrun:
                # Not in the reader's buffer: take what cannot be part of it, and read on.
                more = await reader.readexactly(overrun.consumed)
                finished = False
        if state is DataState.NOMINAL:
            kept += more
        tail = (tail + more[-(len(END) - 1):])[-(len(END) - 1):]
        if finished:
            break
        if state is DataState.NOMINAL and size_limit and len(kept) > size_limit:
            state = _over_size(kept, size_limit, line_limit)
            kept = bytearray()  # from here on, only the tail is kept
    if state is not DataState.NOMINAL:
        return Data(state, b"")
    del kept[len(kept) - 3:]  # "." CRLF; the CRLF before the dot ends the last line
    if size_limit and len(kept) > size_limit:
        return Data(_over_size(kept, size_limit, line_limit), b"")
    if has_long_line(kept, line_limit):
        return Data(DataState.TOO_LONG, b"")
    if kept.startswith(b"."):
        del kept[0]
    return Data(DataState.NOMINAL, bytes(kept.replace(b"\r\n.", CRLF)))
