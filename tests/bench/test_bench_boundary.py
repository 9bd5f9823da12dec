"""`passerelle bench boundary` runs end to end at a small scale (its figures are reported, never asserted)."""

from __future__ import annotations

import re

from click.testing import CliRunner

from hub.cli.main import main


def test_bench_boundary_runs_every_case_and_reports_its_reply():
    result = CliRunner().invoke(main, ["bench", "boundary", "--scale", "0.02"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if re.search(r"\d+ ms\s+\d+ ms\s+[\d.]+ MiB", line)]
    assert len(rows) == 9, result.output
    assert rows[0].endswith("a signed receipt follows") and "250 2.0.0" in rows[0]
    assert all(re.search(r"  5[05][02] 5\.\d\.\d", row) for row in rows[1:5] + rows[6:]), result.output
    assert "machine" in result.output and "default limits" in result.output
