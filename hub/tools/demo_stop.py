"""Ending `passerelle demo` on a stop signal (SIGTERM, SIGINT, SIGHUP: also its terminal closing) the way
quitting ends it: its cleanup runs once, and the terminal's settings are put back."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import termios
import threading
from typing import Callable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)  # SIGHUP: also the terminal closing


class Interrupted(BaseException):
    """A stop signal arrived while the demo was starting (before the dashboard ran)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """While the demo runs, SIGTERM, SIGHUP and SIGINT end it the way quitting does, and *cleanup* runs once.

    During the start, the signal raises Interrupted in the main thread, whose cleanup then runs. While the
    dashboard runs, it is asked to exit from its own event loop (its driver puts the terminal back), and a
    watchdog gives it GRACE_SECONDS: a dashboard that cannot finish (its terminal is gone, and it waits to
    write to it) is left behind, the watchdog cleans up and ends the process. A signal during the cleanup
    waits for it.
    """

    GRACE_SECONDS = 3.0

    def __init__(self, cleanup: Callable[[], None]) -> None:
        self.app = None
        self.received: int | None = None
        self._cleanup = cleanup
        self._lock = threading.Lock()
        self._closing = False
        self._done = False
        self._returned = threading.Event()
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopSignals":
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    @property
    def status(self) -> int:
        """The exit status: 0 when quit, 128 + the signal when one stopped the demo."""
        return 128 + self.received if self.received else 0

    def finished(self) -> None:
        """The main thread is past the dashboard (or the start): clean up, unless the watchdog is at it."""
        self._returned.set()
        self.cleanup()

    def cleanup(self) -> None:
        self._closing = True
        with self._lock:
            if not self._done:
                self._cleanup()
                self._done = True

    def _handle(self, signum: int, _frame) -> None:
        self.received = self.received or signum
        if self._closing:
            return
        if self.app is not None:
            try:
                loop = asyncio.get_running_loop()  # the dashboard's, running in this (the main) thread
            except RuntimeError:
                loop = None
            if loop is not None:
                loop.call_soon_threadsafe(self.app.exit)  # safe from a signal handler
                threading.Thread(target=self._watchdog, args=(signum,), name="demo-stop", daemon=True).start()
                return
        raise Interrupted(signum)

    def _watchdog(self, signum: int) -> None:
        if self._returned.wait(self.GRACE_SECONDS):
            return  # the dashboard exited: the main thread cleans up
        try:
            self.cleanup()
        finally:
            os._exit(128 + signum)


class Terminal:
    """The terminal's settings as the demo found them, put back at the end (a dashboard that did not exit
    cleanly would leave it without echo, in raw mode); nothing when there is no terminal, or it is gone."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
        try:
            self.saved = termios.tcgetattr(self.fd) if self.fd is not None else None
        except termios.error:
            self.saved = None

    def restore(self) -> None:
        if self.fd is None or self.saved is None:
            return
        try:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            if sys.stdout is not None and sys.stdout.isatty():
                os.write(sys.stdout.fileno(), b"\x1b[?1049l\x1b[?25h")  # the normal screen, the cursor shown
        except (OSError, termios.error):  # the terminal was closed (SIGHUP): nothing to put back
            pass
