"""`passerelle bench bombs` runs end to end on small bombs (its figures are reported, never asserted)."""

from __future__ import annotations

import re

from click.testing import CliRunner

from hub.cli.main import main


def test_bench_bombs_runs_and_reports_every_case():
    result = CliRunner().invoke(main, ["bench", "bombs", "--max-message-bytes", "1000000", "--zeros-mb", "20",
                                       "--lines-mb", "5", "--markers-mb", "300", "--signatures", "2000",
                                       "--gpg-timeout", "0.5"])
    assert result.exit_code == 0, result.output
    replies = re.findall(r"  (\d{3}) \d\.\d+\.\d+ ", result.output)
    assert len(replies) == 10, result.output
    assert replies[0] == replies[-1] == "250", result.output  # an ordinary message before and after
    # Every bomb refused (which reply each gets is tests/hub/intake/test_bombs_smtp.py's: here the time limit is
    # 0.5 s, and on a loaded machine gpg may not get its CPU within it, which is answered 451, the safe side).
    assert all(code[0] in "45" for code in replies[1:-1]), result.output
