"""The bounded fuzz harness (issue 13, "How it is shown"): about a minute of mutated signed and encrypted
messages — real clients' (the interop samples, with their keys) and mutt/Thunderbird-shaped ones made with the gpg
command line — sent by smtplib over STARTTLS to a real `passerelle serve` process, with a fixed seed.
`passerelle bench fuzz --seconds N --seed S` is the same harness (hub/tools/fuzz/) for longer runs.

It runs in the first pass only (SQLite, embedded transport): what it aims at is the reading of the message and the
verdict at SMTP time, which are the same code whatever the store and transport; the receipts and the durable
write on PostgreSQL and RabbitMQ are the second pass's tests/hub, and a second minute here would find nothing the
first did not."""

from __future__ import annotations

from hub.tools.fuzz import corpus, run
from tests.conftest import INTEROP

SEED = 20261201
CASES = 450  # the same cases every run (each drawn from the seed and its number): about a minute
SECONDS = 150  # a bound on a slow machine


def test_mutated_messages_get_250_or_5xx_and_every_250_holds():
    """No traceback in the hub's log, every reply 250 or 5xx (no 4xx: the hub has no trouble here), every 250
    verified again by gpg in a home holding only the From partner's key and followed by its receipt signed by the
    hub, no signature accepted twice, the serve process's peak RSS within its bound, and every fresh message sent
    unchanged accepted. A finding names its seed and case: `passerelle bench fuzz --seed S --case N` replays it."""
    report = run.run(SECONDS, SEED, samples=INTEROP, max_cases=CASES)
    shown = report.render()
    assert report.findings == [], shown
    assert report.samples == len(corpus.SAMPLES), shown
    assert report.cases == CASES and report.controls >= 10, shown
    assert report.verified == report.receipts == report.accepted >= report.controls, shown
    assert report.tracebacks == 0 and 0 < report.rss_peak <= run.RSS_BOUND, shown
    reasons = {reason for code, reason in report.replies if 500 <= code < 600}
    assert len(reasons) >= 30, shown  # the mutations reach the reading, the signature, the partner and the replay
    for words in ("Signature is invalid", "Signing key is not registered", "Already accepted", "Signer does not match",
                  "Cannot decrypt", "bare CR"):
        assert any(words in reason for reason in reasons), (words, shown)
