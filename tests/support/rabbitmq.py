"""Real RabbitMQ nodes for tests: one node, or a three-node cluster, on loopback ports in a temporary directory.

Each node gets its own Erlang cookie (in a private HOME), its own epmd on a free loopback port (stopped
afterwards), and listens only on 127.0.0.1 (AMQP and Erlang distribution). Every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
LOOPBACK_DIST = "-kernel inet_dist_use_interface {127,0,0,1}"


def available() -> bool:
    return Path(SERVER).exists() and shutil.which("epmd") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def amqp_ready(port: int, timeout: float = 1.0) -> bool:
    """True when the node answers an AMQP 0-9-1 protocol header with a frame (connection.start)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            return s.recv(1) == b"\x01"
    except OSError:
        return False


@dataclass
class Node:
    """One RabbitMQ node; ``start()`` returns when it accepts AMQP connections."""

    root: Path
    name: str
    epmd_port: int
    cookie: str
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def nodename(self) -> str:
        return f"{self.name}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def env(self) -> dict[str, str]:
        home = self.root / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        base = self.root / self.name
        (base / "log").mkdir(parents=True, exist_ok=True)
        conf = base / "rabbitmq.conf"
        if not conf.exists():
            conf.write_text("loopback_users.guest = true\n")
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(conf.with_suffix("")),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_ENABLED_PLUGINS": "",
            "RABBITMQ_PID_FILE": str(base / "pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": LOOPBACK_DIST,
            "RABBITMQ_CTL_ERL_ARGS": LOOPBACK_DIST,
        }

    def start(self, timeout: float = 60.0) -> "Node":
        log = open(self.root / f"{self.name}.out", "ab")
        self.process = subprocess.Popen([SERVER], env=self.env(), stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq node {self.name} exited: {self.output()[-2000:]}")
            if amqp_ready(self.port):
                return self
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"rabbitmq node {self.name} did not start in {timeout} s: {self.output()[-2000:]}")

    def output(self) -> str:
        path = self.root / f"{self.name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        done = subprocess.run([CTL, "-n", self.nodename, *args], env=self.env(), capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def stop(self, timeout: float = 60.0) -> None:
        """A clean stop (SIGTERM to the server script, which stops the node)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9 the whole node (script and Erlang VM)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(30)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Broker:
    """A node (or a cluster of *size* nodes) in its own temporary directory and epmd."""

    def __init__(self, size: int = 1) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="prmq"))
        self.epmd_port = free_port()
        cookie = os.urandom(16).hex().upper()
        self.nodes = [Node(self.root, f"pt{os.getpid()}n{i}", self.epmd_port, cookie) for i in range(size)]

    @property
    def url(self) -> str:
        """The URL list the transport takes (comma-separated: tried in turn)."""
        return ",".join(n.url for n in self.nodes)

    def start(self) -> "Broker":
        try:
            first = self.nodes[0].start()
            for node in self.nodes[1:]:
                node.start()
                node.ctl("stop_app")
                node.ctl("join_cluster", first.nodename)
                node.ctl("start_app")
            if len(self.nodes) > 1:
                self._wait_cluster(len(self.nodes))
        except BaseException:
            self.close()
            raise
        return self

    def _wait_cluster(self, size: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.nodes[0].ctl("cluster_status", "--formatter", "json")
            if all(n.nodename in status.split("running_nodes", 1)[-1] for n in self.nodes):
                return
            time.sleep(0.5)
        raise RuntimeError("cluster did not form")

    def close(self) -> None:
        for node in self.nodes:
            node.kill()
        # epmd refuses to stop while it still lists a node; the killed nodes' entries go within moments.
        for _ in range(50):
            subprocess.run(["epmd", "-port", str(self.epmd_port), "-kill"], capture_output=True, timeout=30)
            try:
                socket.create_connection(("127.0.0.1", self.epmd_port), timeout=0.2).close()
            except OSError:
                break
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
