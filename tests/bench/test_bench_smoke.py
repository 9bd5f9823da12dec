"""The benchmarks run end to end on a small load (their figures are reported, never asserted)."""

from __future__ import annotations

import re

from click.testing import CliRunner

from hub.cli.main import main


def test_bench_intake_runs_and_reports_every_figure():
    result = CliRunner().invoke(main, ["bench", "intake", "--messages", "20", "--clients", "2", "--size", "2000"])
    assert result.exit_code == 0, result.output
    assert re.search(r"accepted\s+20 \(refused 0\)", result.output), result.output
    assert re.search(r"with receipt 20 receipts", result.output), result.output
    for label in ("250 latency", "receipt lat.", "hub CPU", "gpg ceiling", "efficiency"):
        assert label in result.output


def test_bench_intake_with_a_duty_desk_reports_its_copies():
    result = CliRunner().invoke(main, ["bench", "intake", "--messages", "20", "--clients", "2", "--size", "2000",
                                       "--duty-desk"])
    assert result.exit_code == 0, result.output
    assert re.search(r"with receipt 20 receipts", result.output), result.output
    assert re.search(r"copies\s+20 inbound copies to the duty desk .* p50 [\d.]+ ms", result.output), result.output


def test_bench_scheduler_runs_and_reports_every_figure():
    result = CliRunner().invoke(main, ["bench", "scheduler", "--deadlines", "2000"])
    assert result.exit_code == 0, result.output
    assert re.search(r"busy tick .* for \d+ due clocks", result.output), result.output
    assert "next-due" in result.output and "memory" in result.output


def test_bench_evaluation_runs_and_reports_every_figure():
    result = CliRunner().invoke(main, ["bench", "evaluation", "--recipients", "4", "--evaluations", "1"])
    assert result.exit_code == 0, result.output
    assert re.search(r"deliveries\s+4 through a local relay", result.output), result.output
    assert "route+encrypt" in result.output


def test_bench_tui_runs_and_reports_every_figure():
    result = CliRunner().invoke(main, ["bench", "tui", "--messages", "2000", "--deadlines", "200"])
    assert result.exit_code == 0, result.output
    for label in ("overview", "rates", "health", "deadlines", "traffic", "partners", "alerts", "stuck", "refresh",
                  "rates cold"):
        assert re.search(rf"^{label}\s+[\d.]+ ms", result.output, re.M), result.output
