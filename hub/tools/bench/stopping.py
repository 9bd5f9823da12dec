"""A bench stopped by SIGTERM or SIGHUP ends the way Ctrl-C ends it: the main thread unwinds, so that every
cleanup runs — the served processes are stopped (hub/tools/background.py), the gpg-agents of its scratch homes
stopped and the homes, private keys included, removed. Without it the default action ends the process at once
and leaves all of them behind. A second signal during that cleanup is ignored (SIGKILL still ends it)."""

from __future__ import annotations

import signal
import threading
from typing import Callable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def unwind_on_stop_signals() -> Callable[[], None]:
    """From now on, in this process's main thread, a stop signal raises SystemExit(128 + the signal) once;
    returns what puts the handlers found back (a bench run in another program's process, as by a test)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # handlers can only be set from the main thread; its own stay
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def handle(signum: int, _frame) -> None:
        for other in STOP_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    def restore() -> None:
        for signum, handler in previous.items():
            if handler is not None:  # None: set outside Python, which cannot be put back from here
                signal.signal(signum, handler)

    for signum in STOP_SIGNALS:
        signal.signal(signum, handle)
    return restore
