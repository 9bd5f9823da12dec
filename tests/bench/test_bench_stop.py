"""A bench stopped by SIGTERM cleans up as Ctrl-C does: its served hub stopped, its gpg-agents stopped, its scratch
home (private keys included) removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support import processes
from tests.support.waiting import until


def _processes_naming(folder: Path) -> list[str]:
    """Command lines of the running processes that name *folder* (a served hub's --home, a gpg-agent's --homedir)."""
    return list(processes.naming(folder).values())


def test_bench_flash_stopped_by_sigterm_leaves_no_process_and_no_scratch_home(short_tmp):
    bench = subprocess.Popen([sys.executable, "-m", "hub", "bench", "flash", "--backlog", "3000", "--probes", "20",
                              "--home", str(short_tmp)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        serving = until(lambda: [c for c in _processes_naming(short_tmp) if "hub serve" in c],
                        lambda found: bool(found) or bench.poll() is not None, seconds=120)
        assert serving, (bench.stdout.read().decode(errors="replace")[-2000:] if bench.poll() is not None
                         else "the bench served no hub within 120 s")
        bench.send_signal(signal.SIGTERM)
        output, _ = bench.communicate(timeout=90)
        left = until(lambda: _processes_naming(short_tmp), lambda found: found == [], seconds=10)
        files = list(short_tmp.iterdir())
    finally:
        try:  # the bench and whatever it started and left behind (its own session: one process group)
            os.killpg(bench.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        bench.wait(30)  # the gpg-agents a failed run left (they daemonise out of the group): short_tmp stops them
    assert bench.returncode == 128 + signal.SIGTERM, output.decode(errors="replace")[-2000:]
    assert left == []
    assert files == []
