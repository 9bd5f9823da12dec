"""`passerelle bench`: measured figures, not timed tests."""

from __future__ import annotations

from pathlib import Path

import click

from .common import scratch_option


@click.group()
def bench() -> None:
    """Benchmarks on this machine."""
    from hub.tools.bench.stopping import unwind_on_stop_signals

    # SIGTERM or SIGHUP: the bench's cleanup runs, as for Ctrl-C; the handlers found are back when it ends.
    click.get_current_context().call_on_close(unwind_on_stop_signals())


@bench.command("intake")
@click.option("--messages", "count", default=500, show_default=True, help="Signed 20 KB messages to send.")
@click.option("--clients", default=8, show_default=True, help="Concurrent SMTP clients.")
@click.option("--size", default=20_000, show_default=True, help="Body size in bytes.")
@click.option("--timeout", "timeout_seconds", default=600.0, show_default=True, help="Give up after this long.")
@click.option("--store-url", help="An empty database for the hub's store (postgresql+psycopg://...); default SQLite.")
@click.option("--amqp", "amqp_url", default="", help="RabbitMQ URL: run one gateway and --workers worker processes "
                                                    "over it instead of one embedded process.")
@click.option("--workers", default=1, show_default=True, help="Worker processes (with --amqp).")
@click.option("--embedded-store-url", "embedded_url", help="With --amqp: another empty database on the same server, "
              "where the embedded layout runs the same load for the comparison (default SQLite in its home).")
@click.option("--statements", is_flag=True, help="Count the SQL statements and commits of each served process, by "
                                                 "role (costs CPU: compare the CPU of runs without it).")
@click.option("--crypto", type=click.Choice(["in-process", "gpg"]), default="in-process", show_default=True,
              help="The hub's crypto.in_process: signatures and encryption in process, or every one by gpg.")
@click.option("--duty-desk", is_flag=True, help="Register one ocam-duty recipient: every message is also copied to "
                                                "it, signed and encrypted to its key (what the copies cost).")
@scratch_option
def bench_intake(count: int, clients: int, size: int, timeout_seconds: float, store_url: str | None, amqp_url: str,
                 workers: int, embedded_url: str | None, statements: bool, crypto: str, duty_desk: bool,
                 within: Path | None) -> None:
    """Send N signed messages from C clients to a fresh hub; report msg/s, 250 and receipt latency, gpg ceiling."""
    from hub.tools.bench.intake import run_intake_bench

    report = run_intake_bench(count=count, clients=clients, size=size, timeout_seconds=timeout_seconds,
                              store_url=store_url, amqp_url=amqp_url, workers=workers,
                              in_process=crypto == "in-process", duty_desk=duty_desk, within=within,
                              embedded_url=embedded_url, statements=statements)
    click.echo(report.render())


@bench.command("log")
@click.option("--seconds", default=10.0, show_default=True, help="How long the writers append.")
@click.option("--per-commit", default=3, show_default=True, help="Events per transaction (an intake writes about 3).")
@click.option("--threads", default=2, show_default=True, help="Writer threads.")
@click.option("--events", default=1_000_000, show_default=True, help="Events in the log for `audit verify` (the "
              "rest written directly into the store).")
@click.option("--samples", default=200, show_default=True, help="Receipt proofs timed.")
@click.option("--store-url", help="An empty database (postgresql+psycopg://...); default a temporary SQLite file.")
def bench_log(seconds: float, per_commit: int, threads: int, events: int, samples: int, store_url: str | None) -> None:
    """Appends per second with a checkpoint every second, a receipt's proof (size, time), `audit verify` time."""
    from hub.tools.bench.log import run_log_bench

    click.echo(run_log_bench(seconds=seconds, per_commit=per_commit, threads=threads, events=events,
                             samples=samples, store_url=store_url))


@bench.command("flash")
@click.option("--backlog", default=10_000, show_default=True, help="ROUTINE messages queued before the probes.")
@click.option("--probes", default=20, show_default=True, help="FLASH messages sent one after another (p99 and "
              "max over them).")
@click.option("--amqp", "amqp_url", default="", help="RabbitMQ URL: one gateway and --workers worker processes.")
@click.option("--workers", default=1, show_default=True, help="Worker processes (with --amqp).")
@click.option("--store-url", help="An empty database for the hub's store (postgresql+psycopg://...); default SQLite.")
@scratch_option
def bench_flash(backlog: int, probes: int, amqp_url: str, workers: int, store_url: str | None,
                within: Path | None) -> None:
    """How long a FLASH message waits for its receipt behind a ROUTINE backlog."""
    from hub.tools.bench.flash import run_flash_bench

    click.echo(run_flash_bench(backlog=backlog, probes=probes, amqp_url=amqp_url, workers=workers,
                               store_url=store_url, within=within))


@bench.command("boundary")
@click.option("--scale", default=1.0, show_default=True, help="Sizes of the floods and bombs, 1 = those of issue 13.")
def bench_boundary(scale: float) -> None:
    """Time, hub CPU and peak memory of header floods, bounce bombs and deep nesting, each to its reply."""
    from hub.tools.bench.boundary import run_boundary_bench

    click.echo(run_boundary_bench(scale))


@bench.command("bombs")
@click.option("--zeros-mb", default=1000, show_default=True, help="Zeros compressed into one message (bzip2, zlib).")
@click.option("--lines-mb", default=30, show_default=True, help="Short lines compressed into one message.")
@click.option("--markers-mb", default=3000, show_default=True, help="Marker packets (gpg reads them, writes nothing).")
@click.option("--signatures", default=150_000, show_default=True, help="Signature packets in one signature part.")
@click.option("--gpg-timeout", default=5.0, show_default=True, help="The hub's crypto.gpg_timeout_seconds.")
@click.option("--max-message-bytes", type=int, help="The hub's gateway.max_message_bytes (default: its default).")
def bench_bombs(zeros_mb: int, lines_mb: int, markers_mb: int, signatures: int, gpg_timeout: float,
                max_message_bytes: int | None) -> None:
    """Compression bombs and packet floods against a fresh `passerelle serve`: reply, time, resident memory."""
    from hub.tools.bench.bombs import run_bombs_bench

    click.echo(run_bombs_bench(zeros_mb=zeros_mb, lines_mb=lines_mb, markers_mb=markers_mb, signatures=signatures,
                               gpg_timeout=gpg_timeout, max_message_bytes=max_message_bytes))


@bench.command("scheduler")
@click.option("--deadlines", "count", default=100_000, show_default=True, help="Open clocks in the store.")
@scratch_option
def bench_scheduler(count: int, within: Path | None) -> None:
    """Next-due lookup, an idle and a busy tick, and memory, with COUNT open clocks."""
    from hub.tools.bench.scheduler import run_scheduler_bench

    click.echo(run_scheduler_bench(count, within=within))


@bench.command("crypto")
@click.option("--size", default=20_000, show_default=True, help="Entity size in bytes.")
@click.option("--threads", default=4, show_default=True, help="Threads encrypting at once.")
@click.option("--seconds", default=3.0, show_default=True, help="How long each rate is measured.")
def bench_crypto(size: int, threads: int, seconds: float) -> None:
    """The adapter alone: signed encryptions to a cv25519 and an RSA-3072 key per second, in process and by gpg."""
    from hub.tools.bench.crypto import run_crypto_bench

    click.echo(run_crypto_bench(size=size, threads=threads, seconds=seconds))


@bench.command("evaluation")
@click.option("--recipients", "count", default=50, show_default=True, help="Recipients per evaluation.")
@click.option("--evaluations", "sent", default=5, show_default=True, help="Evaluations to send.")
@scratch_option
def bench_evaluation(count: int, sent: int, within: Path | None) -> None:
    """Time to route and encrypt one evaluation to N recipients, and deliveries per second."""
    from hub.tools.bench.evaluation import run_evaluation_bench

    click.echo(run_evaluation_bench(count, sent, within=within))


@bench.command("tui")
@click.option("--messages", default=100_000, show_default=True)
@click.option("--deadlines", default=10_000, show_default=True)
@click.option("--burst", is_flag=True, help="Every message in the last half hour (the rates' worst case).")
@scratch_option
def bench_tui(messages: int, deadlines: int, burst: bool, within: Path | None) -> None:
    """The dashboard's refresh cost (every query of one refresh) over a store of that size."""
    import shutil
    import tempfile

    from store import Database, upgrade
    from tui.bench import fill, measure

    tmp = Path(tempfile.mkdtemp(prefix="pbt", dir=within))
    try:
        db = Database(f"sqlite:///{tmp / 'bench.db'}")
        upgrade(db.engine)
        now = fill(db, messages, deadlines, burst=burst)
        figures = measure(db, now)
        figures["metrics store"] = _store_gauges(db, now)
        db.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    spread = "all in the last 30 min" if burst else "one a second"
    click.echo(f"store         {messages} messages ({spread}), {deadlines} open deadlines, "
               f"{messages * 4 + messages // 50 + messages // 1000} audit events (SQLite, WAL) in {tmp}")
    for name, seconds in figures.items():
        click.echo(f"{name:<13} {seconds * 1000:.1f} ms (median of {3 if name == 'rates cold' else 20})")


def _store_gauges(db, now) -> float:
    """Median seconds of one reading of the store's Prometheus gauges (hub/ops/gauges.py) over the same store."""
    import statistics
    import time

    from hub.ops.gauges import read

    times = []
    for _ in range(20):
        started = time.perf_counter()
        read(db, now)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@bench.command("fuzz")
@click.option("--seconds", default=600.0, show_default=True, help="How long to send mutated messages.")
@click.option("--seed", default=1, show_default=True, help="The seed the cases are drawn from.")
@click.option("--case", "cases", multiple=True, type=int, help="Run only this case (repeatable): a finding's replay.")
@click.option("--clients", default=1, show_default=True, help="Concurrent STARTTLS sessions.")
@click.option("--samples", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The interop samples (default ../shared/interop/schleuder beside the checkout).")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write each finding's message here (case-N-I.eml).")
@click.option("--crypto", type=click.Choice(["in-process", "gpg"]), default="in-process", show_default=True,
              help="The hub's crypto.in_process: signatures checked in process where they can be, or all by gpg.")
@scratch_option
def bench_fuzz(seconds: float, seed: int, cases: tuple[int, ...], clients: int, samples: Path | None,
               keep: Path | None, crypto: str, within: Path | None) -> None:
    """Mutated signed and encrypted messages to a fresh hub: replies, receipts, independent gpg checks, memory."""
    from hub.tools.fuzz.corpus import DEFAULT_SAMPLES
    from hub.tools.fuzz.run import run

    report = run(seconds, seed, clients=clients, samples=samples or DEFAULT_SAMPLES, cases=cases or None,
                 in_process=crypto == "in-process", within=within)
    click.echo(report.render())
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for n, finding in enumerate(f for f in report.findings if f.raw is not None):
            (keep / f"case-{finding.case if finding.case is not None else 'run'}-{n}.eml").write_bytes(finding.raw)
    if report.findings:
        raise SystemExit(1)
