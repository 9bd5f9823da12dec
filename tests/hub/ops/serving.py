"""A real `passerelle serve` process for the operating tests: its output in a file (read at any time, never a
pipe that could fill), its metrics scraped over HTTP, stopped with SIGTERM (then killed, bounded)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.hubrig import free_port


class Served:
    def __init__(self, home: Path, relay: str, *args: str, role: str = "all", smtp: bool = True,
                 metrics: bool = True, **env: str) -> None:
        self.home = home
        self.port = free_port() if smtp else 0
        self.metrics_port = free_port() if metrics else 0
        self.log = home / f"serve-{role}-{time.monotonic_ns()}.log"
        command = [sys.executable, "-m", "hub", *args, "serve", "--home", str(home), "--role", role, "--relay", relay,
                   "--metrics-listen", f"127.0.0.1:{self.metrics_port}" if metrics else ""]
        if smtp:
            command += ["--listen", f"127.0.0.1:{self.port}"]
        environment = {**os.environ, "PASSERELLE_DELIVERY__RETRY_SCHEDULE_SECONDS": "[0.5]", **env}
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> "Served":
        """Until its SMTP port (or, without one, its metrics port) answers; fails with its output if it exits."""
        port = self.port or self.metrics_port
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"passerelle serve exited {self.process.returncode}:\n{self.text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                if not self.metrics_port or self.port == port:
                    return self
                socket.create_connection(("127.0.0.1", self.metrics_port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"passerelle serve did not listen:\n{self.text()}")

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """GET /metrics: every sample, keyed by (name, sorted labels)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = response.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def until(read, condition, seconds: float = 30.0):
    """Poll *read* until *condition* holds of what it returns (bounded); return the last reading."""
    deadline = time.monotonic() + seconds
    got = read()
    while not condition(got) and time.monotonic() < deadline:
        time.sleep(0.1)
        got = read()
    return got
