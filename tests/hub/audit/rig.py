"""A real hub's audit log, once per module: messages over SMTP with their receipts, a checkpoint file taken
midway, a witness that cosigned; and copies of its store to tamper with, checked through the real CLI."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.settings import load
from tests.hub.rig import HubHome, decrypt_for, make_home, new_message_id, partner, reference_in, signed
from tests.support import stores
from tests.support.hubrig import RunningHub
from tests.support.keys import TestKey, make_key

WITNESS = "comite-r"


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def ok(*args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class Logged:
    home: HubHome
    root: Path
    hub_key: Path  # HUB.asc
    receipts: dict[str, bytes]  # by reference, as the contact point reads them (decrypted: signed receipts)
    travelled: dict[str, bytes]  # by reference, as they left the hub (encrypted to the contact point)
    police: TestKey  # the contact point, whose own GnuPG home opens them
    early: Path  # a checkpoint file taken after the first messages
    early_size: int
    witness: TestKey
    state: Path  # the witness's state: the checkpoint it cosigned
    cosigned: Path  # the cosigned checkpoint it answered with
    size: int  # events when the hub stopped


def _witness_mail(relay: CaptureRelay, email: str, after: int) -> bytes:
    """The last checkpoint request mailed to the witness once the log held more than *after* events."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        mails = [c for c in relay.messages if email in c.rcpt_tos]
        sizes = [int(c.message["Subject"].rsplit(" ", 1)[1]) for c in mails]
        if sizes and sizes[-1] > after:
            return mails[-1].data
        time.sleep(0.1)
    raise AssertionError("no checkpoint was mailed to the witness")


def run_hub(root: Path, messages: int = 6) -> Logged:
    home = make_home(root)
    police = partner(root, "police")
    home.register(police, "police-fed", "police")
    witness = make_key(root, "witness@comite-r.test", name="Comite R")
    (root / "witness.asc").write_bytes(witness.public)
    h = str(home.settings.home)
    ok("recipient", "add", WITNESS, "--type", "public-authority", "--email", witness.email, "--key",
       str(root / "witness.asc"), "--clearance", "SECRET", "--basis", "witness of the audit log", "--home", h)
    with (home.settings.home / "passerelle.toml").open("a") as f:
        f.write(f'\n[audit]\nwitnesses = ["{WITNESS}"]\nwitness_every_seconds = 0.3\n')
    settings = load(home.settings.home)
    settings.delivery.retry_schedule_seconds = [0.3, 0.3, 0.6]
    home.settings = settings
    receipts: dict[str, bytes] = {}
    early = root / "early.checkpoint"
    with CaptureRelay() as relay, RunningHub(settings, relay=relay.address) as hub:
        for n in range(messages):
            fields = {"Message-Kind": "request", "Urgency": ("FLASH", "URGENT", "ROUTINE")[n % 3]}
            code, reply = hub.send(signed(police, message_id=new_message_id(), keyword_lines=fields))
            assert code == 250, reply
            receipts[reference_in(reply)] = b""
            if n == messages // 2 - 1:
                ok("audit", "checkpoint", "--out", str(early), "--home", h)
        deadline = time.monotonic() + 60
        while not all(receipts.values()) and time.monotonic() < deadline:
            for c in relay.messages:
                reference = c.message.get("X-Passerelle-Reference")
                if reference in receipts and "Ontvangstbevestiging" in c.message["Subject"]:
                    receipts[reference] = c.data
            time.sleep(0.1)
        assert all(receipts.values()), "a receipt is missing"
        travelled = dict(receipts)
        receipts = {reference: decrypt_for(raw, police.email) for reference, raw in travelled.items()}
        early_size = int(early.read_text().split("\n")[1])
        request = root / "request.eml"
        request.write_bytes(_witness_mail(relay, witness.email, early_size))
    ok("audit", "key", "--out", str(root / "HUB.asc"), "--home", h)
    state, cosigned, reply_mail = root / "witness-state.json", root / "cosigned.checkpoint", root / "reply.eml"
    ok("witness", "cosign", str(request), "--hub-key", str(root / "HUB.asc"), "--witness-home", str(witness.home),
       "--state", str(state), "--out", str(cosigned), "--reply-out", str(reply_mail))
    ok("audit", "cosignature", str(reply_mail), "--home", h)
    db = home.db()
    with db.reader() as uow:
        size = uow.log.size()
    db.dispose()
    return Logged(home, root, root / "HUB.asc", receipts, travelled, police, early, early_size, witness, state,
                  cosigned, size)


def copy_home(logged: Logged, directory: Path) -> Path:
    """A copy of the stopped hub's home and store, to tamper with."""
    target = directory / "copy"
    shutil.copytree(logged.home.settings.home, target, ignore=shutil.ignore_patterns("S.*", "*.db", "*.db-*"))
    url = stores.copy_store(logged.home.settings.database_url, target)
    settings = target / "passerelle.toml"
    if stores.on_postgres():
        lines = settings.read_text().splitlines()
        settings.write_text("\n".join(f'url = "{url}"' if line.startswith("url = \"postgresql") else line
                                      for line in lines) + "\n")
    return target


def sql(home: Path, *statements: str) -> None:
    """Run statements on a home's store, as someone with access to the database would."""
    engine = create_engine(load(home).database_url)
    with engine.begin() as c:
        for statement in statements:
            c.execute(text(statement))
    engine.dispose()
