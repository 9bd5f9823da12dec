"""A real PostgreSQL for tests: initdb + pg_ctl on a free 127.0.0.1 port, everything in a temporary directory.

PostgreSQL refuses to run as root: when the tests run as root (CI), the server runs as the
``postgres`` system user (created by the Debian package) over a directory chowned to it.
Authentication is ``trust`` on loopback and the unix socket (which lives in the temporary
directory); the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

START_SECONDS = 30


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): run 'make system-deps'")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``server = PostgresServer().start(); server.create_database("x"); server.url("x"); server.stop()``."""

    def __init__(self, *, fsync: bool = False) -> None:
        self.bin = _bin_dir()
        self.fsync = fsync
        self.root = Path(tempfile.mkdtemp(prefix="pg"))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log = self.root / "server.log"
        self.port = 0
        self.as_user = "postgres" if os.geteuid() == 0 else None
        self._running = False

    # -- process -------------------------------------------------------------------------------

    def _run(self, *args: str, timeout: float = START_SECONDS) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)

    def start(self) -> "PostgresServer":
        self.sockets.mkdir()
        if self.as_user:
            user = pwd.getpwnam(self.as_user)
            for path in (self.root, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                  "--locale", "C.UTF-8")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.sockets}'",
            "max_connections": "300",
            "shared_buffers": "64MB",
            "fsync": "on" if self.fsync else "off",
            "synchronous_commit": "on",
            "full_page_writes": "on" if self.fsync else "off",
            "log_min_messages": "warning",
            "timezone": "'UTC'",
        }
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# tests/support/postgres.py\n")
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        for attempt in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_SECONDS),
                          "-o", f"-p {self.port}", "start", timeout=START_SECONDS + 5)
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise RuntimeError(f"PostgreSQL did not start:\n{self.log_tail()}") from None
        self._running = True
        return self

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is cut, the server comes back on the same port."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_SECONDS),
                  "-m", "fast", "-o", f"-p {self.port}", "restart", timeout=START_SECONDS + 5)

    def stop(self) -> None:
        if self._running:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-w", "-t", str(START_SECONDS), "-m", "immediate", "stop",
                          timeout=START_SECONDS + 5)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pid = self._postmaster_pid()
                if pid:
                    os.kill(pid, 9)
            self._running = False
        shutil.rmtree(self.root, ignore_errors=True)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    # -- databases -----------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as the superuser."""
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True, connect_timeout=10) as connection:
            connection.execute(sql)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """A new database (optionally a copy of *template*); returns its SQLAlchemy URL."""
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def wait_ready(self, timeout: float = START_SECONDS) -> None:
        """Until the server accepts connections (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


_shared: PostgresServer | None = None


def shared() -> PostgresServer:
    """The session's server, started on first use and stopped at exit (see tests/conftest.py)."""
    global _shared
    if _shared is None:
        server = PostgresServer()
        atexit.register(server.stop)
        _shared = server.start()
    return _shared


def stop_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None
