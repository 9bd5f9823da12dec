"""A hub served from a background thread: for the benchmark, the demo and end-to-end tests."""

from __future__ import annotations

import asyncio
import threading

from hub.app import Hub
from hub.clock import Clock
from hub.settings import Settings


class BackgroundHub:
    """``with BackgroundHub(settings, relay="127.0.0.1:2526") as bg: bg.port``."""

    def __init__(self, settings: Settings, *, relay: str, clock: Clock | None = None,
                 listen: str = "127.0.0.1:0") -> None:
        self.settings = settings
        self.relay = relay
        self.listen = listen
        self.hub = Hub(settings, clock=clock)
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hub", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def ready(host: str, port: int) -> None:
                self.port = port
                self._ready.set()

            await self.hub.serve(listen=self.listen, relay=self.relay, stop=self._stop, ready=ready,
                                 install_signals=False)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by start() and stop()
            self._error = exc
            self._ready.set()

    def start(self) -> "BackgroundHub":
        self._thread.start()
        if not self._ready.wait(30) or self._error:
            raise RuntimeError(f"hub did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._thread.ident is not None:  # started: a start cut short has its loop once ready (bounded wait)
            self._ready.wait(30)
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.ident is not None:
            self._thread.join(60)
        self.hub.close()
        if self._error:
            raise self._error

    def __enter__(self) -> "BackgroundHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
