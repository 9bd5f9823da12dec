"""`passerelle duty`: the dashboard's acts from the command line — seen, refused with a sentence when they name
nothing to act on, signed by the officer (a staff member) and recorded under their name with the statement, and
effective (a retried receipt reaches the relay)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from tests.hub.rig import home_with_police, reference_in, signed
from tests.support import ocam
from tests.support.hubrig import RunningHub
from tests.support.waiting import until


def _cli(home, *args: str):
    """The command as the staff member on duty runs it (their own GnuPG home signs the acts)."""
    return CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)], by=ocam.person("staff")))


def test_duty_commands_act_as_the_dashboard_does(short_tmp):
    home, key = home_with_police(short_tmp)
    staff = home.member(ocam.person("staff"))
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        relay.refuse(1)  # the receipt is refused for good: an alert and a failed delivery
        reference = reference_in(hub.send(signed(key))[1])
        # the relay's 554 comes before the hub records the failure and raises the alert
        alerts = until(lambda: json.loads(_cli(home, "duty", "alerts", "--json").output), bool, seconds=20)
        assert [a["alert"] for a in alerts] == ["alert.delivery_failed"]
        assert alerts[0]["reference"] == reference
        stuck = _cli(home, "duty", "stuck")
        assert stuck.exit_code == 0 and "failed delivery" in stuck.output
        delivery = int(stuck.output.split()[2])

        acked = _cli(home, "duty", "ack", str(alerts[0]["id"]))
        assert acked.exit_code == 0, acked.output
        assert "alert.delivery_failed" in acked.output
        again = _cli(home, "duty", "ack", str(alerts[0]["id"]))
        assert again.exit_code == 2 and "already acknowledged" in again.output
        assert _cli(home, "duty", "alerts").output.strip() == "no open alert"
        nothing = _cli(home, "duty", "requeue", "999999")
        assert nothing.exit_code == 2 and "is not quarantined" in nothing.output

        analyst = home.member(ocam.person("analyst"))  # the analyst watches, but keeps no delivery going
        refused = CliRunner().invoke(main, analyst.signs("duty", "retry", str(delivery), "--home",
                                                         str(home.settings.home)))
        assert refused.exit_code == 2 and "delivery.retry is not an act of the analyst" in refused.output
        assert "failed delivery" in _cli(home, "duty", "stuck").output
        retried = _cli(home, "duty", "retry", str(delivery))
        assert retried.exit_code == 0, retried.output
        hub.hub.transport.notify("outbound")
        assert relay.wait_for(1, timeout=20)
        assert _cli(home, "duty", "retry", str(delivery)).exit_code == 2  # no longer failed
    shown = json.loads(_cli(home, "messages", "show", reference, "--json").output)
    by_officer = [e for e in shown["audit"] if e["actor"] == staff.name]
    assert [e["action"] for e in by_officer] == ["operator.alert_acknowledged", "operator.delivery_retried"]
    assert ["act: alert.acknowledge", "act: delivery.retry"] == [
        next(line for line in e["detail"]["statement"].splitlines() if line.startswith("act: ")) for e in by_officer]
    assert all(f"member: {staff.name} {staff.key.fingerprint}" in e["detail"]["statement"] for e in by_officer)
    assert shown["receipt_status"] == "sent"
    assert _cli(home, "duty", "stuck").output.strip() == "nothing quarantined, no failed delivery"
    refusals = json.loads(CliRunner().invoke(main, ocam.as_director(  # the director reads the whole log
        "audit", "list", "--action", "access.refused", "--json", "--home", str(home.settings.home))).output)
    assert [(e["actor"], e["detail"]["act"]) for e in refusals] == [("analyst", "delivery.retry")]
