"""The SMTP ingress as a client meets it: replies without TCP stalls."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from crypto import make_self_signed
from gateway import IngressHandler, replies, server_tls_context, start_server

BODY = (b"From: a@partner.test\r\nTo: hub@ocam.test\r\nSubject: s\r\nMessage-ID: <x@partner.test>\r\n\r\n"
        + b"".join(b"line %06d lorem ipsum dolor sit amet consectetur adipiscing elit sed do.\r\n" % i
                   for i in range(270)))  # about 20 KB: the tail of DATA is a small TCP segment


@pytest.mark.skipif(not hasattr(__import__("socket"), "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux-only")
def test_a_client_with_nagle_gets_its_250_without_a_delayed_ack_stall(tmp_path):
    """An ordinary smtplib client (Nagle on) sends 20 KB messages over STARTTLS: the median time to the 250
    stays far under the 40 ms delayed-ACK timer that would otherwise hold the end of each message."""
    make_self_signed("ocam.test", tmp_path / "c.pem", tmp_path / "k.pem")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict = {}

    async def serve() -> None:
        handler = IngressHandler(admit=lambda s: replies.ACCEPTED.format(reference="PSR-2026-000001"),
                                 accepts_rcpt=lambda a: True, hub_address="hub@ocam.test",
                                 executor=ThreadPoolExecutor(2))
        server = await start_server(handler, "127.0.0.1", 0, require_starttls=True, hostname="ocam.test",
                                    tls_context=server_tls_context(str(tmp_path / "c.pem"), str(tmp_path / "k.pem")))
        holder["port"], holder["server"] = server.sockets[0].getsockname()[1], server
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(10)
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    times = []
    try:
        with smtplib.SMTP("127.0.0.1", holder["port"], timeout=10) as client:
            client.starttls(context=tls)
            client.ehlo()
            for _ in range(9):
                started = time.monotonic()
                client.sendmail("a@partner.test", ["hub@ocam.test"], BODY)
                times.append(time.monotonic() - started)
    finally:
        loop.call_soon_threadsafe(holder["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    assert statistics.median(times) < 0.030, times
