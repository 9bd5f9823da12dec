"""The demo stopped by a signal or by its terminal closing: its temporary home (with secret keys) is removed,
every gpg-agent it started is gone, and the terminal's settings are as it found them."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from hub.tools import demo
from tests.support import processes

STARTED_WITHIN = 60  # seconds for the dashboard to draw (key generation for eight homes)
CLEANED_WITHIN = 40  # seconds from the signal to the demo's exit, home removed and agents gone


def _read(fd: int, seconds: float, until: bytes | None = None) -> bytes:
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
            if until is not None and until in out:
                break
    return out


def _agents_of(root: Path) -> list[int]:
    """Processes whose command line names a GnuPG home under *root* (its gpg-agents)."""
    return [pid for pid, command in processes.naming(root).items() if "gpg-agent" in command]


def _controlling_terminal() -> None:  # in the child: the pty becomes its controlling terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _start(private: Path) -> tuple[subprocess.Popen, int, int]:
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30", "TMPDIR": str(private)}
    process = subprocess.Popen([sys.executable, "-m", "hub", "demo"], stdin=slave, stdout=slave, stderr=slave,
                               env=env, close_fds=True, start_new_session=True, preexec_fn=_controlling_terminal)
    return process, master, slave


def _wait_gone(process: subprocess.Popen, master: int, private: Path) -> None:
    deadline = time.monotonic() + CLEANED_WITHIN
    while time.monotonic() < deadline and (process.poll() is None or list(private.glob("pdemo*"))
                                           or _agents_of(private)):
        if master >= 0:
            _read(master, 0.2)
        else:
            time.sleep(0.2)
    assert process.poll() is not None, "the demo did not exit"
    assert not list(private.glob("pdemo*")), "the demo's temporary home (secret keys) is still there"
    assert not _agents_of(private), "a gpg-agent of the demo is still running"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["TERM", "HUP", "INT"])
def test_a_stop_signal_while_the_dashboard_runs_cleans_up(short_tmp, signum):
    """SIGTERM, SIGHUP or SIGINT while the dashboard is up: exit 128 + signal, home and agents gone,
    the terminal in the mode it was in before (echo, line editing)."""
    fresh = pty.openpty()
    before = termios.tcgetattr(fresh[1])  # a fresh pty's settings: what the demo's terminal started in
    for fd in fresh:
        os.close(fd)
    process, master, slave = _start(short_tmp)
    try:
        screen = _read(master, STARTED_WITHIN, until=b"eadlines")  # the tab, its key (D) underlined
        assert b"eadlines" in screen, screen[-2000:]
        assert list(short_tmp.glob("pdemo*")) and _agents_of(short_tmp)
        assert termios.tcgetattr(slave)[3] & termios.ECHO == 0  # the dashboard put the terminal in raw mode
        process.send_signal(signum)
        _wait_gone(process, master, short_tmp)
        assert process.returncode == 128 + signum
        after = termios.tcgetattr(slave)
        assert after[3] & (termios.ECHO | termios.ICANON) == before[3] & (termios.ECHO | termios.ICANON)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
        os.close(slave)


def test_a_stop_signal_while_the_demo_starts_cleans_up(short_tmp):
    """SIGTERM before the dashboard is drawn (keys being made, the hub starting): the same cleanup."""
    process, master, slave = _start(short_tmp)
    try:
        deadline = time.monotonic() + STARTED_WITHIN
        screen = b""  # what the demo wrote, for the failure's message (CI once saw no agent within the minute)
        while time.monotonic() < deadline and not _agents_of(short_tmp) and process.poll() is None:
            screen += _read(master, 0.1)  # until the first home has its agent
        assert _agents_of(short_tmp), (f"the demo made no gpg home (exit status {process.poll()}, "
                                       f"{len(list(short_tmp.rglob('*')))} paths in its TMPDIR): {screen[-2000:]!r}")
        process.send_signal(signal.SIGTERM)
        _wait_gone(process, master, short_tmp)
        assert process.returncode == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
        os.close(slave)


def test_closing_the_terminal_cleans_up(short_tmp):
    """The terminal window closed (the pty's master end gone: the kernel hangs up the session): the same."""
    process, master, slave = _start(short_tmp)
    try:
        screen = _read(master, STARTED_WITHIN, until=b"eadlines")  # the tab, its key (D) underlined
        assert b"eadlines" in screen, screen[-2000:]
        os.close(slave)
        slave = -1
        os.close(master)
        master = -1
        _wait_gone(process, master, short_tmp)
    finally:
        if process.poll() is None:
            process.kill()
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)


class _Session:
    """A demo session whose start meets a stop signal in the ways a real start can: the signal's exception
    reaches the demo, is swallowed on the way (a finaliser, a library), or is replaced by another error raised
    while the interrupted step cleans up after itself."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.closed = 0

    def start(self):
        if self.how == "none":
            return "db"
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs here, in the main thread
        except BaseException:
            if self.how == "swallowed":
                return "db"
            if self.how == "replaced":
                raise RuntimeError("rollback failed: the transaction was interrupted half way") from None
            raise
        raise AssertionError("no signal arrived")

    def close(self) -> None:
        self.closed += 1


class _Terminal:
    def __init__(self) -> None:
        self.restored = 0

    def restore(self) -> None:
        self.restored += 1


@pytest.mark.parametrize("how", ["raised", "swallowed", "replaced"])
def test_a_stop_signal_during_the_start_ends_it_with_its_status_whatever_became_of_its_exception(how):
    """128 + SIGTERM, cleaned up once, no dashboard: also when the start swallowed the signal's exception (the
    demo went on to the dashboard and ran) or replaced it with another error (the demo exited with status 1)."""
    session, terminal, dashboards = _Session(how), _Terminal(), []
    before = signal.getsignal(signal.SIGTERM)
    status = demo.run_session(session, lambda db, s: dashboards.append(db), terminal)
    assert status == 128 + signal.SIGTERM
    assert dashboards == []
    assert (session.closed, terminal.restored) == (1, 1)
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers the demo found are put back


def test_an_error_of_the_start_without_a_signal_is_not_hidden():
    class Broken(_Session):
        def start(self):
            raise RuntimeError("the hub could not start")

    session, terminal = Broken("none"), _Terminal()
    with pytest.raises(RuntimeError, match="could not start"):
        demo.run_session(session, lambda db, s: None, terminal)
    assert (session.closed, terminal.restored) == (1, 1)
