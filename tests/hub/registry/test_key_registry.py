"""A (sub)key belongs to one registered key: a key carrying another's (sub)key is refused by `partner add`,
`partner update-key`, `member add` and `recipient add`, saying whose it is; and where such a key is in the
keyring already, the stolen subkey's signatures stay its owner's (or are refused), never the thief's, over SMTP."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from tests.hub.rig import make_home, new_message_id, partner, reference_in, signed
from tests.support import keys as testkeys
from tests.support import ocam
from tests.support import openpgp as o
from tests.support.hubrig import RunningHub

NOW = int(time.time())
DAY = 86400
THIEF_UID = "Thief <thief@partner.test>"


def run(home, *args: str):
    return CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)]))


def fingerprints(gnupg_home, fingerprint: str) -> list[str]:
    """Primary, then subkey fingerprints of a key as gpg lists them in gnupg_home."""
    out = testkeys.gpg(gnupg_home, "--with-colons", "--list-keys", fingerprint).decode()
    return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]


def carrying(gnupg_home, owner: str, taken: str, *, thief: o.Key | None = None, flags: int = o.SIGN) -> bytes:
    """A key, the thief's primary (or *thief*) with one user id, binding the (sub)key *taken* of owner's key
    as gnupg_home exports it, without the owner's back-signature (the thief has not its secret)."""
    taken_key = o.key_of(testkeys.gpg(gnupg_home, "--export", owner), taken)
    thief = thief or o.Key(NOW - 3 * DAY)
    binding = o.binding(thief, taken_key, created=max(thief.created, taken_key.created), flags=flags)
    return o.public_key_block(o.transferable(thief, THIEF_UID, [(taken_key, [binding])]))


def key_file(tmp, name: str, data: bytes) -> str:
    path = tmp / f"{name}.asc"
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def registry(short_tmp):
    """A hub home with one partner, police-fed (a gpg key that signs with a subkey), registered by the CLI."""
    home = make_home(short_tmp)
    police = partner(short_tmp, "police", signing_subkey=True)
    added = run(home, "partner", "add", "police-fed", "--kind", "police", "--email", police.email,
                "--key", key_file(short_tmp, "police", police.public))
    assert added.exit_code == 0, added.output
    return home, police, short_tmp


ADD = {"partner": ["partner", "add", "thief", "--kind", "police", "--email", "thief@partner.test"],
       "member": ["member", "add", "thief", "--role", "analyst", "--email", "thief@partner.test",
                  "--clearance", "TOP-SECRET"],
       "recipient": ["recipient", "add", "thief", "--type", "nsc-member", "--email", "thief@partner.test",
                     "--clearance", "SECRET"]}


@pytest.mark.parametrize("command", ["partner", "member", "recipient"])
@pytest.mark.parametrize("taken", ["signing subkey", "encryption subkey", "primary key"])
def test_a_key_holding_a_registered_partners_key_is_refused_saying_whose(registry, command, taken):
    """partner add / member add / recipient add of a key carrying one of police-fed's keys: exit 2, a sentence
    naming that key and its registered owner; nothing registered, nothing imported."""
    home, police, tmp = registry
    primary, signing, encryption = fingerprints(police.home, police.fingerprint)
    stolen = {"signing subkey": signing, "encryption subkey": encryption, "primary key": primary}[taken]
    thief = o.Key(NOW - 3 * DAY)
    data = carrying(police.home, police.fingerprint, stolen, thief=thief,
                    flags=o.ENCRYPT if taken == "encryption subkey" else o.SIGN)
    result = run(home, *ADD[command], "--key", key_file(tmp, "thief", data))
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert (f"subkey {stolen} of this key already belongs to partner 'police-fed' (key {police.fingerprint})"
            in said), said
    assert home.gpg.key(thief.fingerprint) is None
    assert "thief" not in run(home, command, "list", "--json").output


def test_update_key_refuses_a_subkey_of_another_registration(registry):
    """update-key of a registered partner with its own key plus a member's subkey bound to it: refused, naming
    the member; the partner's key in the keyring is unchanged. Its own newer copy is still taken."""
    home, police, tmp = registry
    ana = testkeys.make_key(tmp, "ana@ocam.test", name="Ana")
    assert run(home, "member", "add", "ana", "--role", "analyst", "--email", ana.email, "--clearance", "TOP-SECRET",
               "--key", key_file(tmp, "ana", ana.public)).exit_code == 0
    vsse = o.Key(NOW - 3 * DAY)
    own = o.public_key_block(o.transferable(vsse, "Vsse <vsse@partner.test>", []))
    assert run(home, "partner", "add", "vsse", "--kind", "intelligence", "--email", "vsse@partner.test",
               "--key", key_file(tmp, "vsse", own)).exit_code == 0
    stolen = fingerprints(ana.home, ana.fingerprint)[1]
    result = run(home, "partner", "update-key", "vsse", "--key",
                 key_file(tmp, "vsse-new", carrying(ana.home, ana.fingerprint, stolen, thief=vsse, flags=o.ENCRYPT)))
    assert result.exit_code == 2, result.output
    assert (f"subkey {stolen} of this key already belongs to member 'ana' (key {ana.fingerprint})"
            in " ".join(result.output.split())), result.output
    assert home.gpg.key(vsse.fingerprint).subkeys == ()
    renewed = run(home, "partner", "update-key", "police-fed", "--key", key_file(tmp, "police-again", police.public))
    assert renewed.exit_code == 0, renewed.output


def test_a_key_holding_the_hubs_own_key_is_refused(registry):
    """A key binding the hub's own signing key under another primary is refused as "the hub's own key"."""
    home, _police, tmp = registry
    data = carrying(home.settings.gnupg_home, home.fingerprint, home.fingerprint)
    result = run(home, *ADD["partner"], "--key", key_file(tmp, "thief", data))
    assert result.exit_code == 2, result.output
    assert f"already belongs to the hub's own key {home.fingerprint}" in " ".join(result.output.split())


# -- a stolen subkey already in the keyring -------------------------------------------------------------------

@pytest.fixture(params=[True, False], ids=["in process", "gpg alone"])
def stolen_rig(request, short_tmp):
    """police-fed registered; then a thief registered with a key of its own, which later took police-fed's
    signing subkey, bound under the thief's primary without its back-signature (imported straight into the
    keyring, as a hub without the registration check let `update-key` do). A running hub on that home."""
    home = make_home(short_tmp)
    home.settings.crypto.in_process = request.param
    police = partner(short_tmp, "police", signing_subkey=True)
    home.register(police, "police-fed", "police")
    thief = o.Key(NOW - 3 * DAY)
    own = o.public_key_block(o.transferable(thief, THIEF_UID, []))
    assert run(home, *ADD["partner"], "--key", key_file(short_tmp, "thief", own)).exit_code == 0
    signing = fingerprints(police.home, police.fingerprint)[1]
    testkeys.gpg(home.settings.gnupg_home, "--import",
                 data=carrying(police.home, police.fingerprint, signing, thief=thief))
    assert len(home.gpg.holding([signing])) == 2
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        yield home, police, thief, hub


def test_the_owners_signature_stays_the_owners(stolen_rig):
    """The genuine partner's signed mail From its own address is accepted as police-fed's (250); the same
    signature on a message From the thief's address is refused (signer does not match From)."""
    home, police, thief, hub = stolen_rig
    code, text = hub.send(signed(police, message_id=new_message_id()), mail_from=police.email)
    assert code == 250, text
    db = home.db()
    with db.reader() as uow:
        row = uow.messages.by_reference(reference_in(text))
        assert uow.partners.by_fingerprint(police.fingerprint).id == row.partner_id
    db.dispose()
    code, text = hub.send(signed(police, sender="thief@partner.test", message_id=new_message_id()),
                          mail_from="thief@partner.test")
    assert (code, text) == (550, "5.7.1 Signer does not match the From address")
