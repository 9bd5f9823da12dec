"""The demo under a pseudo-terminal: it starts, the dashboard draws, q stops everything and cleans up."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time


def _read(fd: int, seconds: float) -> bytes:
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


def test_demo_runs_and_quits_cleanly(short_tmp):
    # The demo's temporary home goes where --home says, a directory of this test's own, so demos run by other
    # processes on the machine cannot make the check below pass or fail; not in TMPDIR. (Short: gpg-agent's
    # socket lives in the home, and a socket path is limited to 107 bytes.)
    private, elsewhere = short_tmp / "d", short_tmp / "t"
    elsewhere.mkdir()
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30", "TMPDIR": str(elsewhere)}
    process = subprocess.Popen([sys.executable, "-m", "hub", "demo", "--home", str(private)], stdin=slave,
                               stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    try:
        screen = _read(master, 15)
        assert b"Passerelle" in screen and b"eadlines" in screen  # the tab, its key (D) underlined
        assert list(private.glob("pdemo*")), "the demo's home is not where --home says"
        assert not list(elsewhere.glob("pdemo*"))
        os.write(master, b"q")
        _read(master, 2)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert not list(private.glob("pdemo*"))  # its temporary home is gone
