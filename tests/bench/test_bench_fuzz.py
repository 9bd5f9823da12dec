"""`passerelle bench fuzz` runs end to end on a few cases, and `--case` replays them (its counts are reported); its
temporary hub is made where --home says, and gone after."""

from __future__ import annotations

import re

from click.testing import CliRunner

from hub.cli.main import main


def test_bench_fuzz_replays_cases_and_reports_its_counts(short_tmp):
    within = short_tmp / "scratch"
    result = CliRunner().invoke(main, ["bench", "fuzz", "--seed", "3", "--case", "1", "--case", "2", "--case", "3",
                                       "--home", str(within)])
    assert result.exit_code == 0, result.output
    assert within.is_dir() and list(within.iterdir()) == [], result.output
    assert re.search(r"run +seed 3, 3 cases, [34] SMTP transactions", result.output), result.output
    assert re.search(r"^ +\d+  (250|5\d\d) ", result.output, re.M) and "findings     none" in result.output
    assert "machine" in result.output and "serve peak RSS" in result.output
