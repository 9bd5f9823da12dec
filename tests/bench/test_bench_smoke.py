"""The benchmarks run end to end on a small load (their figures are reported, never asserted)."""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from hub.cli.main import main
from hub.tools.background import served
from hub.tools.bench.intake import SINK_TABLE
from hub.tools.bench.load import send
from hub.tools.director import init_with_director
from store import sqlite_url


def _served_children() -> list[str]:
    """Command lines of this process's children that serve a hub or the gateway alone (none once a bench ends)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and ("hub serve" in command or "hub.tools.bench.intake" in command):
            found.append(command)
    return found


def test_bench_intake_runs_and_reports_every_figure():
    result = CliRunner().invoke(main, ["bench", "intake", "--messages", "20", "--clients", "2", "--size", "2000"])
    assert result.exit_code == 0, result.output
    assert re.search(r"accepted\s+20 \(refused 0\)", result.output), result.output
    assert re.search(r"with receipt 20 receipts", result.output), result.output
    for label in ("250 latency", "receipt lat.", "hub CPU", "gpg ceiling", "efficiency"):
        assert label in result.output
    assert re.search(r"^peak RSS\s+\d+ MiB \(the serve process", result.output, re.M), result.output
    assert re.search(r"^gateway alone  [\d.]+ msg/s, [\d.]+ ms/msg", result.output, re.M), result.output
    cost = re.search(r"^hub cost  (\d+\.\d)x .*the hub adds (-?[\d.]+) ms/msg", result.output, re.M)
    assert cost, result.output
    hub = sum(map(float, re.search(r"^hub CPU +([\d.]+) ms/msg in the hub process, ([\d.]+) ms/msg in its gpg",
                                   result.output, re.M).groups()))
    alone = float(re.search(r"^gateway alone  [\d.]+ msg/s, ([\d.]+) ms/msg", result.output, re.M).group(1))
    assert abs(float(cost.group(2)) - (hub - alone)) < 0.3, result.output  # the figures printed agree (rounding)
    assert _served_children() == []


def test_the_gateway_alone_commits_each_message_before_its_250_and_ends_with_the_bench(short_tmp):
    """The same STARTTLS rule as the hub; the raw bytes in its table once answered; its process gone after Ctrl-C."""
    identity = init_with_director(short_tmp)
    url = sqlite_url(short_tmp / "alone.db")
    raw = b"From: bench@police.test\r\nSubject: alone\r\n\r\n.a line that starts with a dot\r\n"
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    with pytest.raises(KeyboardInterrupt):
        with served(short_tmp / "hub", "", gateway_alone=url) as (port, meter):
            pids = [p.pid for p in meter.processes]
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                smtp.ehlo()
                assert smtp.mail("bench@police.test")[0] == 530
                smtp.starttls(context=tls)
                smtp.ehlo()
                assert send(smtp, "bench@police.test", "nobody@ocam.test", raw) is None  # not the hub's address
                assert send(smtp, "bench@police.test", identity.address, raw) == "2.0.0 Stored durably as row 1 (gateway alone, bench)"
            assert meter.peak_rss() > 0 and sum(meter()) > 0
            raise KeyboardInterrupt
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            assert c.execute(text(f"SELECT mail_from, raw FROM {SINK_TABLE}")).all() == [("bench@police.test", raw)]
    finally:
        engine.dispose()


def test_bench_intake_with_a_duty_desk_reports_its_copies():
    result = CliRunner().invoke(main, ["bench", "intake", "--messages", "20", "--clients", "2", "--size", "2000",
                                       "--duty-desk"])
    assert result.exit_code == 0, result.output
    assert re.search(r"with receipt 20 receipts", result.output), result.output
    assert re.search(r"copies\s+20 inbound copies to the duty desk .* p50 [\d.]+ ms", result.output), result.output


def test_bench_flash_reports_its_percentiles_over_every_probe():
    result = CliRunner().invoke(main, ["bench", "flash", "--backlog", "200", "--probes", "3"])
    assert result.exit_code == 0, result.output
    assert re.search(r"receipt at the relay: p50 \d+ ms, p99 \d+ ms, max \d+ ms over 3 probes$", result.output,
                     re.M), result.output
    for step in ("intake.accepted -> receipt.signed", "receipt.signed -> receipt.sent"):  # where the time went
        assert re.search(rf"^step\s+{step}: p50 \d+ ms, max \d+ ms$", result.output, re.M), result.output
    assert re.search(r"^slowest\s+PSR-\d{4}-\d+ \d+ ms: receipt.signed \+\d+ ms, receipt.sent \+\d+ ms$",
                     result.output, re.M), result.output
    assert _served_children() == []


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


def test_bench_crypto_runs_and_reports_both_paths_for_both_keys():
    """Each message is opened by its recipient before any timing (the benchmark asserts it); both rates reported."""
    result = CliRunner().invoke(main, ["bench", "crypto", "--size", "2000", "--threads", "2", "--seconds", "0.3"])
    assert result.exit_code == 0, result.output
    for kind in ("cv25519", "rsa-3072"):
        assert re.search(rf"^{kind}\s+in process\s+[\d.]+/s,\s+[\d.]+ ms CPU each, \d+ bytes;\s+gpg\s+[\d.]+/s",
                         result.output, re.M), result.output


def test_bench_tui_runs_and_reports_every_figure():
    result = CliRunner().invoke(main, ["bench", "tui", "--messages", "2000", "--deadlines", "200"])
    assert result.exit_code == 0, result.output
    for label in ("overview", "rates", "health", "deadlines", "traffic", "partners", "alerts", "stuck", "refresh",
                  "rates cold"):
        assert re.search(rf"^{label}\s+[\d.]+ ms", result.output, re.M), result.output
