"""A serving process's Prometheus metrics: counters of what it did, read from memory, and its endpoint.

What happens in a process is counted in it (intake verdicts, deliveries, the receipt latency, signature
verifications): Prometheus adds the processes of a distributed deployment up. What the store holds (queues,
deadlines, holds) comes from the one process leading the scheduler (hub/ops/gauges.py). The intake path pays
one in-memory counter increment per verdict; everything else is read when Prometheus scrapes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, GCCollector, Histogram, PlatformCollector, ProcessCollector
from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway import Reply, Submission
from hub.errors import HubError
from hub.settings import host_port

log = logging.getLogger(__name__)

# From the 250 to the relay's 250 for the receipt: a receipt is out in well under a second when all is well;
# the long buckets show a relay outage's back-off.
RECEIPT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
DEFAULT_PORT = 9464


class _Live(Collector):
    """What is read from the process's parts when scraped: signature verifications by path, SMTP sessions open,
    the relay's failures in a row, and whether this process leads the scheduler."""

    def __init__(self) -> None:
        self.verifications: Callable[[], dict[str, int]] | None = None
        self.sessions: Callable[[], int] | None = None
        self.relay_failures: Callable[[], int] | None = None
        self.leading: Callable[[], bool] | None = None

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        if self.verifications is not None:
            paths = CounterMetricFamily("passerelle_signature_verifications", "Signatures checked, by who decided: "
                                        "in_process (crypto/native.py, good only) or gpg (everything else).",
                                        labels=["path"])
            for path, n in sorted(self.verifications().items()):
                paths.add_metric([path], n)
            yield paths
        if self.sessions is not None:
            yield GaugeMetricFamily("passerelle_smtp_sessions", "SMTP sessions open on this process's gateway.",
                                    value=self.sessions())
        if self.relay_failures is not None:
            yield GaugeMetricFamily("passerelle_relay_failures", "Attempts in a row the relay did not take (0: it "
                                    "accepts); while above 0 this process's deliveries wait for its back-off.",
                                    value=self.relay_failures())
        if self.leading is not None:
            yield GaugeMetricFamily("passerelle_scheduler_leading", "1 in the process that runs the scheduler (and "
                                    "exports the store's gauges), 0 in those standing by.", value=int(self.leading()))


class Metrics:
    """One process's metrics in a registry of its own (several hubs in one test process never mix)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._accepted = Counter("passerelle_intake_accepted", "SMTP transactions answered 250 at the end of DATA, "
                                 "by reply: accepted (a message, given its reference), dsn_recorded, mdn_recorded.",
                                 ["reply"], registry=r)
        self._refused = Counter("passerelle_intake_refused", "Refusals given at SMTP time (RCPT, DATA, size and line "
                                "limits), by reason (the reply's name, README \"Refusals\") and code; 4xx included.",
                                ["reason", "code"], registry=r)
        self._deliveries = Counter("passerelle_deliveries", "Attempts to hand a mail to the relay, by purpose and "
                                   "outcome: sent, deferred (a 4xx or no answer: a retry is scheduled), failed "
                                   "(refused for good, or older than delivery.max_age).", ["purpose", "outcome"],
                                   registry=r)
        self._receipt_latency = Histogram("passerelle_receipt_latency_seconds", "From the 250 that accepted a "
                                          "message to the relay's 250 for its receipt.", buckets=RECEIPT_BUCKETS,
                                          registry=r)
        self._verdicts: dict[tuple[str, int], Callable[[], None]] = {}
        self.live = _Live()
        r.register(self.live)
        for standard in (ProcessCollector, PlatformCollector, GCCollector):
            standard(registry=r)

    # -- the gateway ---------------------------------------------------------------------------

    def replied(self, reply: Reply) -> None:
        """One SMTP verdict: one dictionary read and one counter increment."""
        key = (reply.name, reply.code)
        inc = self._verdicts.get(key)
        if inc is None:
            child = (self._accepted.labels(reply.name) if reply.accepted
                     else self._refused.labels(reply.name, str(reply.code)))
            inc = self._verdicts.setdefault(key, child.inc)
        inc()

    def counting(self, admit: Callable[[Submission], Reply]) -> Callable[[Submission], Reply]:
        """The admission, its every reply counted."""
        def counted(submission: Submission) -> Reply:
            reply = admit(submission)
            self.replied(reply)
            return reply
        return counted

    def counting_refusals(self, record: Callable[..., None]) -> Callable[..., None]:
        """The gateway's own refusals (RCPT, size, line length) counted, then recorded as before."""
        def counted(peer: str, mail_from: str, reply: Reply, **detail: object) -> None:
            self.replied(reply)
            record(peer, mail_from, reply, **detail)
        return counted

    # -- delivery ------------------------------------------------------------------------------

    def delivered(self, purpose: str, outcome: str, latency: timedelta | None) -> None:
        self._deliveries.labels(purpose, outcome).inc()
        if purpose == "receipt" and latency is not None:
            self._receipt_latency.observe(max(latency.total_seconds(), 0.0))

    def watch(self, collector: Collector) -> None:
        """Another collector read at scrape time (the store's gauges)."""
        self.registry.register(collector)


class Endpoint:
    """The HTTP endpoint Prometheus scrapes (/metrics), on its own thread."""

    def __init__(self, metrics: Metrics, listen: str) -> None:
        host, port = host_port(listen, DEFAULT_PORT)
        try:
            self._server, self._thread = start_http_server(port, host, registry=metrics.registry)
        except OSError as exc:
            raise HubError(f"metrics: cannot listen on {listen} ({exc.strerror or exc}); give this process a free "
                           "port with --metrics-listen or [metrics] listen, or an empty one for no endpoint") from None
        self.host, self.port = self._server.server_address[:2]
        log.info("serve: metrics on http://%s:%d/metrics", self.host, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
