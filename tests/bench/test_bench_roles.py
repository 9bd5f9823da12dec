"""The distributed intake bench by role: servers found by their port, their exited children counted, the SQL counted."""

from __future__ import annotations

import re
import subprocess
import sys

from hub.tools.background import cpu_seconds
from hub.tools.bench.intake import run_intake_bench
from hub.tools.bench.roles import listener_pid, tree_cpu
from tests.bench.test_bench_smoke import _served_children
from tests.support.stores import fresh_postgres

# Listens on a loopback port, then waits for a child that burns 0.3 s of CPU, then idles.
SERVER = """
import socket, subprocess, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True)
subprocess.run([sys.executable, "-c", "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.3: pass"])
print("waited", flush=True)
time.sleep(60)
"""


def test_a_server_is_found_by_its_port_and_its_exited_children_are_counted():
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        assert listener_pid(port) == server.pid
        assert server.stdout.readline().strip() == "waited"
        assert cpu_seconds(server.pid)[0] < 0.3  # its own CPU does not hold the child's
        assert tree_cpu(server.pid) >= 0.3
    finally:
        server.kill()
        server.wait(10)
    assert listener_pid(port) is None


def test_the_distributed_bench_reports_cpu_by_role_against_the_embedded_layout(rabbitmq):
    report = run_intake_bench(count=12, clients=2, size=2000, timeout_seconds=300, amqp_url=rabbitmq.url, workers=1,
                              store_url=fresh_postgres(migrated=False), embedded_url=fresh_postgres(migrated=False),
                              statements=True)
    out = report.render()
    assert re.search(r"with receipt 12 receipts", out), out
    assert re.search(r"^CPU by role  gateway [\d.]+, worker \(1\) [\d.]+, scheduler [\d.]+; hub processes [\d.]+; "
                     r"PostgreSQL [\d.]+, broker [\d.]+; total [\d.]+ ms/msg; [\d.]+ PostgreSQL transactions/msg",
                     out, re.M), out
    assert re.search(r"^embedded     same store kind, same load: hub [\d.]+, PostgreSQL [\d.]+; total", out, re.M), out
    assert re.search(r"^distributed cost  \d+\.\dx of embedded", out, re.M), out
    # Each message is one row of the message table, inserted by the gateway (or the embedded hub): counted once.
    distributed, embedded = report.layouts
    assert distributed.statements["gateway"]["INSERT message"] == 12
    assert "INSERT message" not in distributed.statements["worker"]
    assert embedded.statements["all"]["INSERT message"] == 12
    assert distributed.statements["gateway"]["commit"] >= 12 and embedded.statements["all"]["commit"] >= 12
    assert re.search(r"^statements   distributed worker: [\d.]+ statements", out, re.M), out
    assert _served_children() == []
