"""What each role of a distributed hub costs per message: its processes', PostgreSQL's and the broker's CPU, and
the SQL each role runs (`python -m hub.tools.bench.roles OUT serve ...` counts it)."""

from __future__ import annotations

import atexit
import json
import os
import re
import runpy
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


def listener_pid(port: int) -> int | None:
    """The process holding the loopback socket listening on *port* (from /proc/net/tcp, tcp6 and /proc/*/fd)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cells = line.split()
            if cells[3] == "0A" and int(cells[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{cells[9]}]")
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                if os.readlink(fd) in inodes:
                    return int(fd_dir.parent.name)
        except OSError:
            continue
    return None


def _stats() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, utime + stime + cutime + cstime in seconds) of every live process."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(stat.parent.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / tick)
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of *pid* and every live descendant, each with its waited-for children's: a PostgreSQL backend
    that exited is in the postmaster's cutime/cstime, a live one in its own utime/stime."""
    stats = _stats()
    children: dict[int, list[int]] = {}
    for child, (parent, _cpu) in stats.items():
        children.setdefault(parent, []).append(child)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            total += stats[current][1]
        todo += children.get(current, [])
    return total


@dataclass
class Server:
    """A server on this machine found by the port of its URL (PostgreSQL, RabbitMQ); its processes' CPU now."""

    name: str
    pid: int

    @classmethod
    def of(cls, name: str, url: str, default_port: int) -> Server | None:
        pid = listener_pid(urlsplit(url.split(",")[0]).port or default_port)
        return cls(name, pid) if pid else None

    def __call__(self) -> float:
        return tree_cpu(self.pid)


def database_commits(url: str) -> int:
    """Transactions committed in the URL's PostgreSQL database so far (pg_stat_database.xact_commit)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            c.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(c.execute(text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))
                       .scalar() or 0)
    finally:
        engine.dispose()


@dataclass
class Layout:
    """One run's CPU seconds: per hub role, per server (PostgreSQL, broker); commits; SQL by role when counted."""

    accepted: int
    p99_250: float
    roles: dict[str, float]
    servers: dict[str, float]
    commits: int = 0  # pg_stat_database, the whole run (the served processes' start and stop included)
    statements: dict[str, Counter] = field(default_factory=dict)  # role -> Counter of "VERB table" and "commit"

    def per_message(self, seconds: float) -> float:
        return 1000 * seconds / max(self.accepted, 1)

    @property
    def hub(self) -> float:
        return sum(self.roles.values())

    @property
    def total(self) -> float:
        return self.hub + sum(self.servers.values())


def render(distributed: Layout, embedded: Layout | None, workers: int) -> list[str]:
    """The lines `CPU by role`, `embedded`, `distributed cost` and, when counted, `statements`."""
    ms = lambda seconds: f"{distributed.per_message(seconds):.1f}"  # noqa: E731
    roles = ", ".join(f"{role}{f' ({workers})' if role == 'worker' else ''} {ms(cpu)}"
                      for role, cpu in distributed.roles.items())
    servers = ", ".join(f"{name} {ms(cpu)}" for name, cpu in distributed.servers.items())
    lines = [f"CPU by role  {roles}; hub processes {ms(distributed.hub)}; {servers or 'no server measured'}; "
             f"total {ms(distributed.total)} ms/msg"
             + (f"; {distributed.commits / max(distributed.accepted, 1):.1f} PostgreSQL transactions/msg "
                "(pg_stat_database xact_commit, the served processes' start and stop included)"
                if distributed.commits else "")]
    if embedded is not None:
        e = lambda seconds: f"{embedded.per_message(seconds):.1f}"  # noqa: E731
        lines.append(f"embedded     same store kind, same load: hub {e(embedded.hub)}"
                     + "".join(f", {name} {e(cpu)}" for name, cpu in embedded.servers.items())
                     + f"; total {e(embedded.total)} ms/msg; 250 p99 {1000 * embedded.p99_250:.0f} ms"
                     + (f"; {embedded.commits / max(embedded.accepted, 1):.1f} PostgreSQL transactions/msg"
                        if embedded.commits else ""))
        ratio = distributed.per_message(distributed.total) / max(embedded.per_message(embedded.total), 1e-9)
        hub_ratio = distributed.per_message(distributed.hub) / max(embedded.per_message(embedded.hub), 1e-9)
        lines.append(f"distributed cost  {ratio:.1f}x of embedded (CPU per message over every process, servers "
                     f"included; hub processes alone {hub_ratio:.1f}x)")
    for name, layout in (("distributed", distributed), ("embedded", embedded)):
        if layout is None or not layout.statements:
            continue
        for role, counted in layout.statements.items():
            per = lambda n: f"{n / max(layout.accepted, 1):.1f}"  # noqa: E731
            top = ", ".join(f"{key} {per(n)}" for key, n in counted.most_common(8) if key != "commit")
            lines.append(f"statements   {name} {role}: {per(sum(n for k, n in counted.items() if k != 'commit'))} "
                         f"statements and {per(counted['commit'])} commits per message ({top})")
    return lines


def read_statements(folder: Path) -> dict[str, Counter]:
    """The counts the served processes wrote when they stopped, summed by role."""
    found: dict[str, Counter] = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        found.setdefault(data["role"], Counter()).update(data["counts"])
    return found


_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.I)


def _count_statements(out: Path, role: str) -> None:
    """Count every SQL statement (by verb and first table) and commit of this process; written at exit."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts: Counter = Counter()
    lock = threading.Lock()

    def executed(_conn, _cursor, statement, _parameters, _context, executemany) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        table = _TABLE.search(statement)
        with lock:
            counts[f"{verb} {table.group(1) if table else ''}".strip()] += 1

    def committed(_conn) -> None:
        with lock:
            counts["commit"] += 1

    event.listen(Engine, "before_cursor_execute", executed)
    event.listen(Engine, "commit", committed)

    def write() -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{role}-{os.getpid()}.json").write_text(json.dumps({"role": role, "counts": dict(counts)}))
        print(f"bench statements: {role}: {sum(counts.values()) - counts['commit']} statements, "
              f"{counts['commit']} commits", file=sys.stderr)

    atexit.register(write)


if __name__ == "__main__":  # OUT serve --home HOME --role ROLE ...: `passerelle serve`, its SQL counted into OUT
    args = sys.argv[2:]
    _count_statements(Path(sys.argv[1]), args[args.index("--role") + 1] if "--role" in args else "all")
    sys.argv = ["passerelle", *args]
    runpy.run_module("hub", run_name="__main__", alter_sys=True)
