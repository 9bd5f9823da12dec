"""What the CLI shows a person: times in Europe/Brussels with their zone (JSON in UTC), each message's direction
(an OCAM request goes out to its partner), empty lists said so; the demo and the benchmarks make their temporary
hub where --home says."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from tests.hub.rig import home_with_police, reference_in, signed
from tests.support import mail
from tests.support.hubrig import RunningHub

ZONE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T"


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_messages_list_and_show_in_brussels_time_with_direction(short_tmp):
    home, police = home_with_police(short_tmp)
    where = ("--home", str(home.settings.home))
    assert run("messages", "list", "--quarantined", *where).strip() == "nothing quarantined"
    assert run("messages", "list", *where).strip() == "no message yet"
    assert run("messages", "list", "--refused", *where).strip() == "no refusal recorded"
    body = short_tmp / "question.txt"
    body.write_text("Question")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(police, keyword_lines={"Urgency": "FLASH", "Message-Kind": "request"}))
        assert code == 250
        inbound = reference_in(text)
        outbound = reference_in(run("send", "request", "--to", "police-fed", "--urgency", "URGENT", "--subject",
                                    "Vérification", "--body", str(body), *where))
        assert hub.send(mail.unsigned_mail(sender=police.email))[0] == 550
        relay.wait_for(2)
    listed = run("messages", "list", *where).splitlines()
    assert listed[0].split()[:3] == ["reference", "dir", "partner"] and listed[0].endswith("due (Brussels)")
    rows = {line.split()[0]: line for line in listed[1:]}
    assert rows[inbound].split()[1] == "in" and re.search(rf"{ZONE}$", rows[inbound])
    assert rows[outbound].split()[1] == "out" and rows[outbound].split()[2] == "police-fed"
    shown_out = run("messages", "show", outbound, *where)
    assert shown_out.splitlines()[0] == f"{outbound}  outbound to police-fed"
    shown_in = run("messages", "show", inbound, *where).splitlines()
    assert shown_in[0] == f"{inbound}  inbound from police-fed"
    trail = shown_in[shown_in.index("  audit trail:") + 1:]
    assert trail and all(re.match(rf"    {ZONE}  ", line) for line in trail), trail
    for label in ("received", "due"):
        assert any(re.fullmatch(rf"  {label}\s+{ZONE}", line) for line in shown_in), shown_in
    refused = run("messages", "list", "--refused", *where).splitlines()
    assert refused[0].startswith("refused at (Brussels)") and re.match(rf"{ZONE}  550 unsigned", refused[1])
    data = json.loads(run("messages", "list", "--json", *where))
    due = next(r["due_at"] for r in data if r["reference"] == inbound)
    assert due.endswith("+00:00")  # JSON: UTC
    assert abs(datetime.fromisoformat(due) - datetime.fromisoformat(
        next(r["received_at"] for r in data if r["reference"] == inbound)) - timedelta(hours=24)) < timedelta(minutes=1)


def test_bench_tui_makes_its_store_where_home_says(short_tmp):
    """`bench tui --home DIR`: the store is made in a new directory inside DIR (created if need be), gone after."""
    within = short_tmp / "scratch" / "here"
    output = run("bench", "tui", "--messages", "200", "--deadlines", "20", "--home", str(within))
    made = re.search(r"\(SQLite, WAL\) in (\S+)", output)
    assert made and made.group(1).startswith(str(within) + "/pbt"), output
    assert within.is_dir() and list(within.iterdir()) == []
