"""One "on time" rule (hub/deadlines/windows.py): a response half a second after its due time is on time in its
receipt, in the deadline row and in the report alike; one a second after is late in all three."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock
from tests.hub.rig import Receipt, home_with_police, reference_in, signed
from tests.support.hubrig import RunningHub

# The hub's frozen clock runs a day ahead of the real time (see tests/hub/deadlines/test_scheduler.py).
T0 = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def _cli(home, *args):
    return CliRunner().invoke(main, [*args, "--home", str(home.settings.home)])


def test_half_a_second_after_the_due_time_is_on_time_everywhere(short_tmp):
    home, key = home_with_police(short_tmp)
    body = short_tmp / "q.txt"
    body.write_text("Question")
    requests = [reference_in(_cli(home, "send", "request", "--to", "police-fed", "--urgency", "URGENT", "--subject",
                                  "Q", "--body", str(body)).output) for _ in range(2)]
    clock = FrozenClock(T0)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        relay.return_dsns(lambda raw: hub.send(raw, mail_from=""))
        hub.hub.transport.notify("outbound")
        relay.wait_for(2, timeout=20)
        for _ in range(200):
            shown = [json.loads(_cli(home, "messages", "show", r, "--json").output) for r in requests]
            if all(s["deadline"] for s in shown):
                break
            relay.wait_for(10_000, timeout=0.05)
        due = datetime.fromisoformat(shown[0]["deadline"]["due_at"])
        answers = []
        for reference, after in zip(requests, (timedelta(milliseconds=500), timedelta(seconds=1))):
            clock.set(due + after)
            code, text = hub.send(signed(key, body=uuid.uuid4().hex,
                                         keyword_lines={"Message-Kind": "response", "Request-Ref": reference}))
            assert code == 250, text
            answers.append(reference_in(text))
        captured = relay.wait_for(4, timeout=20)
    receipts = {c.message["X-Passerelle-Reference"]: Receipt.read(c.data, home.gpg) for c in captured
                if c.message["X-Passerelle-Reference"] in answers}
    assert [receipts[a].fields["X-Passerelle-Answers"] for a in answers] == [
        f"{requests[0]}; status=on-time", f"{requests[1]}; status=late; delay=1s"]
    rows = [json.loads(_cli(home, "messages", "show", r, "--json").output)["deadline"] for r in requests]
    assert [(r["state"], r["on_time"]) for r in rows] == [("answered", True), ("answered", False)]
    (report,) = json.loads(_cli(home, "report", "deadlines", "--format", "json").output)
    assert (report["direction"], report["answered_on_time"], report["answered_late"]) == ("from OCAM", 1, 1)
