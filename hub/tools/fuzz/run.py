"""The fuzz harness's run (the suite's bounded test and `passerelle bench fuzz`): a fresh hub served by its own
`passerelle serve` process, the corpus's messages mutated (mutations.py) and sent by smtplib over STARTTLS
on loopback, and every claim checked: each reply 250 or 5xx, each 250 verified again by gpg in the From
partner's home and followed by its receipt signed by the hub, no signature accepted twice, no traceback in the
hub's log, its peak RSS within a bound."""

from __future__ import annotations

import os
import platform
import random
import re
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from crypto import Gpg
from crypto.openpgp.gpg_process import stop_agent, system_binary
from gateway.capture import CaptureRelay
from store import Database

from hub.clock import SystemClock
from hub.registry import partners as partners_mod
from hub.settings import load
from ..client import gpg_cli
from ..director import director_home, init_with_director
from ..background import peak_rss, rss, served
from ..bench.load import cpu_model, serve_pid
from . import check, mutations
from .check import Checker
from .corpus import DEFAULT_SAMPLES, SAMPLE_ADDRESSES, Corpus, Seed

SESSION_TRANSACTIONS = 8  # a new session after this many (the gateway closes one after 20 refusals)
RECEIPT_SECONDS = 60.0  # every 250's receipt at the relay within this long after it
SAMPLES_AGE = "P36500D"  # the interop samples were signed in 2016-2021; what is fuzzed is not their age
RSS_BOUND = 384 * 2**20  # the serve process's peak RSS (VmHWM); ~125 MiB measured, messages up to ~3 MiB


@dataclass
class Finding:
    case: int | None
    what: str
    detail: str
    steps: tuple[str, ...] = ()
    raw: bytes | None = None


@dataclass
class Report:
    seed: int
    seconds: float
    clients: int
    samples: int
    in_process: bool = True
    cases: int = 0
    transactions: int = 0
    elapsed: float = 0.0
    replies: Counter = field(default_factory=Counter)
    accepted_from: Counter = field(default_factory=Counter)  # the 250s by the shape or sample they came from
    accepted: int = 0
    verified: int = 0
    receipts: int = 0
    receipt_latest: float = 0.0  # seconds from a 250 to its receipt at the relay, the longest
    controls: int = 0  # fresh messages sent unchanged: each must be accepted
    rss_start: int = 0
    rss_peak: int = 0
    rss_bound: int = 0
    tracebacks: int = 0
    slowest: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    def render(self) -> str:
        gpg = subprocess.run([system_binary("gpg"), "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        mib = lambda n: f"{n / 2**20:.1f} MiB"  # noqa: E731
        lines = [
            f"machine      {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}; {gpg}",
            "hub          passerelle serve (embedded, SQLite), default limits, STARTTLS on loopback, "
            f"crypto.in_process {str(self.in_process).lower()}; {self.samples} interop samples (hub.addresses + {', '.join(SAMPLE_ADDRESSES)}, their lists' keys "
            f"in the hub's home, gateway.max_signature_age {SAMPLES_AGE})" if self.samples else
            "hub          passerelle serve (embedded, SQLite), default limits, STARTTLS on loopback, "
            f"crypto.in_process {str(self.in_process).lower()}; no interop samples",
            f"run          seed {self.seed}, {self.cases} cases, {self.transactions} SMTP transactions in "
            f"{self.elapsed:.0f} s ({self.seconds:g} s asked) from {self.clients} client(s); slowest reply "
            f"{self.slowest:.2f} s",
            "replies      (code, reason: count)",
        ]
        for (code, reason), count in sorted(self.replies.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"  {count:>7}  {code} {reason}")
        lines += [
            f"controls     {self.controls} fresh messages sent unchanged, each must be accepted",
            "accepted     " + ", ".join(f"{source} {n}" for source, n in sorted(self.accepted_from.items())),
            f"verified     {self.verified} of {self.accepted} 250s: the signed part good by gpg in a home holding "
            "only the From partner's key, made by that partner's key; no signature accepted twice",
            f"receipts     {self.receipts} of {self.accepted} 250s followed by a receipt naming them, encrypted to the "
            "partner (opened in its own home; KMail's sender's signed only), signed by the hub (gpg, the hub's public "
            f"key only), the latest {self.receipt_latest:.1f} s after its 250 (bound {RECEIPT_SECONDS:.0f} s)",
            f"memory       serve peak RSS {mib(self.rss_peak)} (VmHWM; {mib(self.rss_start)} after start; bound "
            f"{mib(self.rss_bound)})",
            f"log          {self.tracebacks} tracebacks in the serve log",
            f"findings     {len(self.findings) or 'none'}",
        ]
        for f in self.findings:
            where = f"case {f.case}" if f.case is not None else "the run"
            lines.append(f"  {where}: {f.what}: {f.detail[:300]}")
            if f.steps:
                lines.append(f"    steps: {'; '.join(f.steps)[:600]}")
            if f.case is not None:
                lines.append(f"    replay: passerelle bench fuzz --seed {self.seed} --case {f.case}")
        return "\n".join(lines)


@dataclass
class _Case:
    number: int
    source: str
    steps: tuple[str, ...]
    started: float  # wall clock, to place the hub's log lines
    ended: float = 0.0
    raw: bytes = b""


def reason(text: str) -> str:
    """A reply's words without what varies between messages (references, times, fingerprints)."""
    text = re.sub(r"PSR-\d{4}-\d{6}", "PSR-...", text)
    text = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?( UTC)?", "<time>", text)
    text = re.sub(r"\b[0-9A-F]{16,40}\b", "<key>", text)
    return text[:100]


class _Session:
    """One STARTTLS session, renewed every SESSION_TRANSACTIONS transactions or when it broke."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.client: smtplib.SMTP | None = None
        self.used = 0
        self.tls = ssl.create_default_context()
        self.tls.check_hostname, self.tls.verify_mode = False, ssl.CERT_NONE

    def send(self, mail_from: str, rcpt: str, raw: bytes) -> tuple[int, str]:
        """The reply to DATA, or to the MAIL or RCPT that was refused; (0, what) when the session broke."""
        try:
            if self.client is None or self.used >= SESSION_TRANSACTIONS:
                self.close()
                self.client = smtplib.SMTP("127.0.0.1", self.port, timeout=120)
                self.client.starttls(context=self.tls)
                self.client.ehlo("fuzz.test")
                self.used = 0
            self.used += 1
            for command, argument in ((self.client.mail, mail_from), (self.client.rcpt, rcpt)):
                code, text = command(argument)
                if code != 250:
                    self.client.rset()
                    return code, text.decode("ascii", "replace")
            try:
                code, text = self.client.data(raw)
            except smtplib.SMTPDataError as exc:
                code, text = exc.smtp_code, exc.smtp_error
            return code, text.decode("ascii", "replace")
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            return 0, f"the session broke: {type(exc).__name__} {exc}"

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                self.client.close()
        self.client = None


class _Run:
    """The state one run shares between its clients."""

    def __init__(self, seed: int, corpus: Corpus, checker: Checker, report: Report) -> None:
        self.seed, self.corpus, self.checker, self.report = seed, corpus, checker, report
        self.lock = threading.Lock()
        self.accepted: dict[str, tuple[int, str, float]] = {}  # reference -> (case, partner address, 250 at)
        self.identities: dict[str, int] = {}  # signature identity -> case
        self.cases: list[_Case] = []

    def find(self, case: _Case | None, what: str, detail: str, raw: bytes | None = None) -> None:
        with self.lock:
            self.report.findings.append(Finding(case.number if case else None, what, detail,
                                                case.steps if case else (), raw))

    def plan(self, number: int) -> tuple[_Case, list[tuple[Seed, bool]]]:
        """Case *number*'s transactions: (message, is it a control) — drawn from (seed, number) only."""
        rng = random.Random(f"{self.seed}:{number}")
        kind = rng.choices(("fresh", "sample", "replay"), (65, 25, 10))[0]
        count = rng.choices((0, 1, 2, 3), (12, 50, 25, 13))[0]
        base = (self.corpus.sample(rng) if kind == "sample" else None) or self.corpus.fresh(rng, number)

        def other() -> bytes:
            side = random.Random(f"{self.seed}:{number}:other")
            sample = self.corpus.sample(side) if side.random() < 0.4 else None
            return (sample or self.corpus.fresh(side, number)).raw

        context = mutations.Context(other, self.corpus.addresses)
        sends = []
        steps: list[str] = []
        raw = base.raw
        if kind == "replay" and base.fresh:
            sends.append((base, False))
            raw, step = mutations.replayed(rng, raw)
            steps.append(step)
            count = max(0, count - 1)
        raw, more = mutations.mutate(rng, raw, context, count)
        steps += more
        envelope = rng.random()
        mail_from = "" if envelope < 0.04 else rng.choice(self.corpus.addresses) if envelope < 0.08 else base.mail_from
        if mail_from != base.mail_from:
            steps.append(f"envelope: MAIL FROM:<{mail_from}>")
        sent = Seed(raw, mail_from, base.rcpt, base.source, base.fresh)
        control = base.fresh and kind != "replay" and not steps and base.source != "protected-from-other"
        sends.append((sent, control))
        return _Case(number, base.source, tuple(steps), time.time()), sends

    def one(self, session: _Session, number: int) -> None:
        case, sends = self.plan(number)
        with self.lock:
            self.cases.append(case)
        for message, control in sends:
            started = time.monotonic()
            code, text = session.send(message.mail_from, message.rcpt, message.raw)
            replied = time.monotonic()
            with self.lock:
                self.report.transactions += 1
                self.report.replies[(code, reason(text))] += 1
                self.report.slowest = max(self.report.slowest, replied - started)
                self.report.controls += control
            case.raw = message.raw
            self.judge(case, message, code, text, control, replied)
        case.ended = time.time()

    def judge(self, case: _Case, message: Seed, code: int, text: str, control: bool, replied: float) -> None:
        """One reply against what the hub promises; a 250 read again independently."""
        raw = message.raw
        if code == 0:
            self.find(case, "the session broke", text, raw)
        elif 400 <= code < 500:
            self.find(case, "a 4xx reply (only the hub's own trouble may be; none is expected here)", f"{code} {text}", raw)
        elif code != 250 and not 500 <= code < 600:
            self.find(case, "a reply neither 250 nor 5xx", f"{code} {text}", raw)
        elif code != 250 and control:
            self.find(case, f"a fresh {message.source} message, unchanged, refused", f"{code} {text}", raw)
        if code != 250:
            return
        found = re.search(r"PSR-\d{4}-\d{6}", text)
        if found is None:
            self.find(case, "a 250 naming no reference", text, raw)
            return
        verdict = self.checker.accepted(raw)
        sender = check.sender(raw) or ""
        with self.lock:
            self.accepted[found.group(0)] = (case.number, sender, replied)
            self.report.accepted_from[message.source] += 1
            if verdict.problem is None:
                self.report.verified += 1
            twice = verdict.identity is not None and verdict.identity in self.identities
            first = self.identities.setdefault(verdict.identity, case.number) if verdict.identity else None
        if verdict.problem is not None:
            self.find(case, "a 250 the independent check refuses", verdict.problem, raw)
        if twice:
            self.find(case, "a signature accepted twice", f"{verdict.identity}, first accepted in case {first}", raw)


def run(seconds: float, seed: int, *, clients: int = 1, samples: Path | None = DEFAULT_SAMPLES,
        cases: Iterable[int] | None = None, rss_bound: int = RSS_BOUND, max_cases: int | None = None,
        in_process: bool = True, within: Path | None = None) -> Report:
    """Fuzz a fresh hub, made inside *within* (default the system's temporary directory), for *seconds* (at most
    *max_cases* cases; or only the case numbers in *cases*), from *clients* concurrent sessions; *in_process* the
    hub's crypto.in_process (false: gpg checks every signature)."""
    tmp = Path(tempfile.mkdtemp(prefix="pfz", dir=within))
    try:
        return _run(tmp, seconds, seed, clients=clients, samples=samples,
                    only=None if cases is None else list(cases), rss_bound=rss_bound, max_cases=max_cases,
                    in_process=in_process)
    finally:
        for home in [p for p in tmp.rglob("*") if (p / "pubring.kbx").exists() or (p / "pubring.gpg").exists()]:
            stop_agent(home)
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, seconds: float, seed: int, *, clients: int, samples: Path | None, only: list[int] | None,
         rss_bound: int, max_cases: int | None, in_process: bool) -> Report:
    identity = init_with_director(tmp)
    settings = load(tmp / "hub")
    hub_public = gpg_cli.gpg(settings.gnupg_home, "--armor", "--export", identity.fingerprint)
    (tmp / "keys").mkdir(mode=0o700)
    corpus = Corpus(tmp / "keys", identity.address, hub_public, samples)
    for secret in corpus.hub_secrets:  # the samples' lists' keys: the hub decrypts what their clients encrypted
        gpg_cli.gpg(settings.gnupg_home, "--import", data=secret)
    db = Database(settings.database_url)
    hub_gpg = Gpg(settings.gnupg_home)
    with db.unit_of_work() as uow:
        for p in corpus.partners:  # receipts encrypted to those whose secret key the harness holds, as by default
            partners_mod.add(uow, hub_gpg, SystemClock(), director_home(tmp, settings, hub_gpg), name=p.name,
                             kind=p.kind, email=p.email, key_data=p.public,
                             receipts=partners_mod.ENCRYPTED if p.key else partners_mod.SIGNED)
        uow.commit()
    db.dispose()
    (tmp / "check").mkdir(mode=0o700)
    checker = Checker(tmp / "check", {p.email: (p.fingerprint, p.public) for p in corpus.partners},
                      (identity.fingerprint, hub_public),
                      gpg_cli.gpg(settings.gnupg_home, "--armor", "--export-secret-keys"),
                      {p.email: p.key.home for p in corpus.partners if p.key})
    report = Report(seed, seconds, clients, len(corpus.samples), rss_bound=rss_bound, in_process=in_process)
    state = _Run(seed, corpus, checker, report)
    env = {"PASSERELLE_GATEWAY__MAX_CONNECTIONS_PER_CLIENT": "8"}
    if corpus.samples:
        env |= {"PASSERELLE_HUB__ADDRESSES": '["' + '", "'.join(SAMPLE_ADDRESSES) + '"]',
                "PASSERELLE_GATEWAY__MAX_SIGNATURE_AGE": SAMPLES_AGE}
    try:
        with CaptureRelay() as relay, served(settings.home, relay.address, in_process=in_process, env=env) as (port, _cpu):
            pid = serve_pid(settings.home)
            report.rss_start = rss(pid)
            started = time.monotonic()
            numbers = _numbers(only, started + seconds, max_cases)
            lock = threading.Lock()

            def client() -> None:
                session = _Session(port)
                try:
                    while True:
                        with lock:
                            number = next(numbers, None)
                        if number is None:
                            return
                        try:
                            state.one(session, number)
                        except Exception as exc:  # the harness's own fault: reported, and the run goes on
                            state.find(None, f"the harness raised in case {number}",
                                       "".join(traceback.format_exception(exc))[-600:])
                finally:
                    session.close()

            threads = [threading.Thread(target=client, name=f"fuzz-{i}") for i in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            report.elapsed = time.monotonic() - started
            report.cases = len(state.cases)
            report.accepted = len(state.accepted)
            _receipts(state, relay)
            try:
                report.rss_peak = peak_rss(pid)
            except FileNotFoundError:
                state.find(None, "the serve process is gone", f"pid {pid} exited during the run")
    finally:
        checker.close()
    if report.rss_peak > rss_bound:
        state.find(None, "the serve process's peak RSS passed its bound",
                   f"{report.rss_peak / 2**20:.1f} MiB > {rss_bound / 2**20:.0f} MiB")
    _tracebacks(state, (settings.home / "serve.log").read_text(errors="replace"))
    return report


def _numbers(only: list[int] | None, deadline: float, max_cases: int | None) -> Iterator[int]:
    if only is not None:
        yield from only
        return
    number = 0
    while time.monotonic() < deadline and (max_cases is None or number < max_cases):
        number += 1
        yield number


def _receipts(state: _Run, relay: CaptureRelay) -> None:
    """Every 250 is followed by its receipt within RECEIPT_SECONDS, to the partner, signed by the hub (and encrypted
    to the partner, where its receipts travel so)."""
    deadline = time.monotonic() + RECEIPT_SECONDS
    while time.monotonic() < deadline and len(relay.messages) < len(state.accepted):
        time.sleep(0.2)
    seen: set[str] = set()
    for captured in relay.messages:
        reference, problem = state.checker.receipt(captured.data, captured.rcpt_tos)
        accepted = state.accepted.get(reference or "")
        if problem is not None or accepted is None:
            state.find(None, "a receipt that does not hold", problem or f"{reference} was named by no 250",
                       captured.data)
            continue
        number, sender, at = accepted
        if sender not in [r.lower() for r in captured.rcpt_tos]:
            state.find(None, "a receipt to someone else", f"{reference} to {captured.rcpt_tos}, From was {sender}")
        late = captured.at - at
        state.report.receipt_latest = max(state.report.receipt_latest, late)
        if late > RECEIPT_SECONDS:
            state.find(None, "a receipt later than its bound", f"{reference} (case {number}) after {late:.1f} s")
        seen.add(reference or "")
    state.report.receipts = len(seen)
    for reference, (number, _sender, _at) in state.accepted.items():
        if reference not in seen:
            state.find(None, f"a 250 without its receipt within {RECEIPT_SECONDS:.0f} s", f"{reference} (case {number})")


_RECORD = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def _tracebacks(state: _Run, log: str) -> None:
    """Each traceback in the hub's log, placed in the cases being sent at its time."""
    at: float | None = None
    lines = log.splitlines()
    for i, line in enumerate(lines):
        record = _RECORD.match(line)
        if record:
            at = datetime.strptime(record.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            continue
        if not line.startswith("Traceback (most recent call last):"):
            continue
        state.report.tracebacks += 1
        block = []
        for follow in lines[i + 1:]:
            if _RECORD.match(follow) or follow.startswith("Traceback"):
                break
            block.append(follow)
        last = next((b for b in reversed(block) if b.strip()), "")
        head = lines[i - 1] if i else ""
        during = [c for c in state.cases if at is not None and c.started - 0.5 <= at <= (c.ended or at) + 0.5]
        for case in during or [None]:
            state.find(case, "a traceback in the serve log", f"{head.strip()[:160]} / {last.strip()}",
                       case.raw if case else None)
