"""A member of the government's request (AR Art. 7) is answered by the strategic evaluation (law Art. 8, 1°), which
stops its clock by the one on-time rule, to the second, as the report counts it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from crypto import StorageKey
from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock
from hub.evaluations import sending
from hub.evaluations.policy import Policy
from hub.transport.embedded import EmbeddedTransport
from tests.hub.rig import make_home, partner, reference_in, signed
from tests.support.hubrig import RunningHub
from tests.support.keys import make_key

# The hub's frozen clock runs a day ahead of the real time (see tests/hub/deadlines/test_scheduler.py).
T0 = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def run(home, *args):
    return CliRunner().invoke(main, [*args, "--home", str(home.settings.home)])


@pytest.fixture(scope="module")
def rig(module_tmp):
    """A hub with a support service, two members of the government registered as partners (their requests come
    through the gateway), and the recipients of a strategic evaluation (law Art. 10 §1)."""
    home = make_home(module_tmp)
    keys = {name: partner(module_tmp, name) for name in ("police", "interior", "justice")}
    home.register(keys["police"], "police-fed", "police")
    home.register(keys["interior"], "cabinet-interior", "government")
    home.register(keys["justice"], "cabinet-justice", "government")
    for name, type_ in (("nsc", "nsc-member"), ("crisis", "crisis-centre"), ("fedpros", "federal-prosecutor")):
        key = make_key(module_tmp, f"{name}@gov.test", name=name)
        (module_tmp / f"{name}.asc").write_bytes(key.public)
        assert run(home, "recipient", "add", name, "--type", type_, "--email", key.email, "--key",
                   str(module_tmp / f"{name}.asc"), "--clearance", "SECRET").exit_code == 0
    body = module_tmp / "strategic.txt"
    body.write_text("Évaluation stratégique")
    return home, keys, body


def _ask(home, key, clock=None, **fields) -> str:
    """A request from a member of the government, once its receipt is out (its clock runs). Copies of evaluations
    queued while no hub ran may reach the relay first."""
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        code, text = hub.send(signed(key, keyword_lines={"Message-Kind": "request", **fields}))
        assert code == 250, text
        reference = reference_in(text)
        for count in range(1, 20):
            if reference in [c.message["X-Passerelle-Reference"] for c in relay.wait_for(count, timeout=20)]:
                break
    return reference


def _deadline(home, reference) -> dict:
    return json.loads(run(home, "messages", "show", reference, "--json").output)["deadline"]


def test_the_strategic_evaluation_answers_a_member_of_the_governments_request(rig):
    """`send evaluation --kind strategic --origin government:NAME --request REF` closes the one-month clock and
    goes to that member (Art. 10 §1 c); a punctual one has no rule; the origin must be the one who asked."""
    home, keys, body = rig
    asked = _ask(home, keys["interior"])
    assert _deadline(home, asked)["basis"] == "AR Art. 7: within the month of the request"
    args = ["send", "evaluation", "--threat-level", "2", "--urgency", "ROUTINE", "--classification", "SECRET",
            "--subject", "S", "--body", str(body), "--request", asked]
    punctual = run(home, *args, "--kind", "punctual", "--origin", "government:cabinet-interior")
    assert punctual.exit_code == 2 and "no rule" in punctual.output
    other = run(home, *args, "--kind", "strategic", "--origin", "government:cabinet-justice")
    assert other.exit_code == 2 and f"--request {asked}: not a request of cabinet-justice" in other.output
    result = run(home, *args, "--kind", "strategic", "--origin", "government:cabinet-interior")
    assert result.exit_code == 0, result.output
    evaluation = reference_in(result.output)
    assert "Art. 10 §1 c)" in run(home, "messages", "why", evaluation, "cabinet-interior").output
    deadline = _deadline(home, asked)
    assert deadline["state"] == "answered" and deadline["on_time"] is True
    again = run(home, *args, "--kind", "strategic", "--origin", "government:cabinet-interior")
    assert again.exit_code == 2 and "not a request of cabinet-interior that OCAM owes" not in again.output
    assert "already answered" in again.output
    assert "request.answered" in [e["action"] for e in json.loads(
        run(home, "messages", "show", asked, "--json").output)["audit"]]


def test_an_evaluation_half_a_second_after_the_due_time_is_on_time_and_the_report_agrees(rig):
    """The evaluation that closes a request 0.5 s after its due time is in the due second: on time, in the row and
    in the report; one a full second after is late in both (hub/deadlines/windows.py, on_time)."""
    home, keys, body = rig
    due = T0 + timedelta(days=5)
    reply_by = due.astimezone(timezone(timedelta(hours=1))).isoformat(timespec="seconds")
    requests = [_ask(home, keys["justice"], FrozenClock(T0), **{"Reply-By": reply_by}) for _ in range(2)]
    db = home.db()
    for reference, after in zip(requests, (timedelta(milliseconds=500), timedelta(seconds=1))):
        clock = FrozenClock(due + after)
        with db.unit_of_work() as uow:
            policy = Policy.load()
            plan = sending.plan(uow, home.gpg, policy, clock.now(), kind="strategic",
                                origin="government:cabinet-justice", classification="SECRET", additions=[],
                                exclusions={})
            sending.send(uow, settings=home.settings, gpg=home.gpg,
                         key=StorageKey.load(home.settings.storage_key_path), clock=clock,
                         transport=EmbeddedTransport(db, clock), the_plan=plan, kind="strategic",
                         origin="government:cabinet-justice", threat_level=2, urgency="ROUTINE",
                         classification="SECRET", subject="S", body="x", attachments=[], request=reference)
            uow.commit()
    db.dispose()
    assert [_deadline(home, r)["on_time"] for r in requests] == [True, False]
    assert datetime.fromisoformat(_deadline(home, requests[0])["due_at"]) == due
    (row,) = json.loads(run(home, "report", "deadlines", "--partner", "cabinet-justice", "--format", "json").output)
    assert (row["requests"], row["answered_on_time"], row["answered_late"]) == (2, 1, 1)
