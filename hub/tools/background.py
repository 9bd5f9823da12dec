"""A hub served in the background, from a thread or as its own processes: for the benchmarks, the demo and tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

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


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(own, waited-for children) CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def reset_peak(pid: int) -> None:
    """Linux >= 4.0: writing 5 to clear_refs sets the peak RSS (VmHWM) back to the current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class _Meter:
    """The served processes' CPU seconds (own, and their waited-for children's) and largest peak RSS, now."""

    def __init__(self, processes: list[subprocess.Popen], roles: list[str] | None = None) -> None:
        self.processes = processes
        self.roles = roles or ["all"] * len(processes)

    def __call__(self) -> tuple[float, float]:
        figures = [cpu_seconds(p.pid) for p in self.processes]
        return sum(f[0] for f in figures), sum(f[1] for f in figures)

    def by_role(self) -> dict[str, float]:
        """CPU seconds (own and children's) summed per role: gateway, worker (every worker process), scheduler."""
        found: dict[str, float] = {}
        for process, role in zip(self.processes, self.roles):
            found[role] = found.get(role, 0.0) + sum(cpu_seconds(process.pid))
        return found

    def peak_rss(self) -> int:
        return max(peak_rss(p.pid) for p in self.processes)


@contextlib.contextmanager
def served(home: Path, relay: str, workers: int = 0, in_process: bool = True, env: dict[str, str] | None = None,
            gateway_alone: str | None = None, scheduler: bool = False, statements: Path | None = None):
    """The hub as its own process(es) (`passerelle serve`), as deployed: the load generator does not share its GIL.

    workers == 0: one `--role all` process; else one gateway and *workers* worker processes (and one scheduler
    with *scheduler*). *statements*: a folder where each process writes the SQL statements and commits it ran, by
    role, when it stops (hub.tools.bench.roles counts them; the counting costs CPU). *env*: more
    settings (PASSERELLE_...) for them. Their stderr (the log) goes to HOME/serve.log. *gateway_alone* (a store
    URL): instead, the hub's SMTP server alone over that store (serve_gateway_alone), its log HOME/gateway-alone.log.
    Yields the port and a _Meter; every process is stopped on the way out, whatever raised (Ctrl-C included).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listen = f"127.0.0.1:{port}"
    if gateway_alone:
        commands = [[sys.executable, "-m", "hub.tools.bench.intake", str(home), listen, gateway_alone]]
        roles = ["gateway alone"]
    else:
        roles = ["all"] if workers == 0 else ["gateway"] + ["worker"] * workers + (["scheduler"] if scheduler else [])
        run = [sys.executable, "-m", "hub.tools.bench.roles", str(statements)] if statements else [sys.executable, "-m", "hub"]
        commands = [[*run, "serve", "--home", str(home), "--role", role, "--listen", listen, "--relay", relay]
                    for role in roles]
    log_path = home / ("gateway-alone.log" if gateway_alone else "serve.log")
    log_file = open(log_path, "wb")
    processes: list[subprocess.Popen] = []
    try:  # from the first start on: a stop signal (bench/stopping.py) between two starts stops those started
        for command in commands:
            processes.append(subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=log_file,
                env={**os.environ, "PASSERELLE_CRYPTO__IN_PROCESS": str(in_process).lower(),
                     # the load generator is one client address: it may take every slot
                     "PASSERELLE_GATEWAY__MAX_CONNECTIONS_PER_CLIENT": "1000",
                     "PASSERELLE_METRICS__LISTEN": "", **(env or {})}))
        for _ in range(600):
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"{' '.join(commands[0][2:6])} exited: {log_path.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        if workers:  # every worker connected to the broker before the clock starts
            for _ in range(600):
                if log_path.read_text().count("transport: connected") >= len(commands):
                    break
                time.sleep(0.05)
        yield port, _Meter(processes, roles)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        log_file.close()
