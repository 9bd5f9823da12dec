"""Encryption in process, differentially: for keys made by gpg, the message made here goes to the subkey gpg
itself encrypts to, gpg decrypts it in the recipient's home to exactly the plaintext with its integrity checked,
a flipped bit is refused, and every key gpg refuses to encrypt to is refused (gpg deciding), never encrypted to
here."""

from __future__ import annotations

import random
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass

import pytest

from crypto.errors import DecryptionFailed, KeyUnusable
from crypto.openpgp.gpg import Gpg
from tests.crypto.openpgp.test_native import GpgRuns
from tests.support import keys
from tests.support import openpgp as o

DATA = b"Content-Type: text/plain\r\n\r\nURGENT: convoy leaves at 06:00\r\n"
PAST = "20250101T000000"  # keys made in the past, so that their subkeys' creation times can be set apart
LATER = "20250301T000000"


@dataclass
class Case:
    """A recipient key made by gpg, and what gpg 2.2.40 does with it (measured)."""

    make: object  # (tmp) -> TestKey
    gpg_encrypts: bool
    in_process: bool  # encrypted here, no gpg process


def _with_subkeys(*subkeys: dict, encryption: bool = True, faked_time: str | None = PAST, **kwargs):
    def make(tmp, email):
        key = keys.make_key(tmp, email, encryption=encryption, faked_time=faked_time, **kwargs)
        for sub in subkeys:
            fpr = keys.add_subkey(key, **{k: v for k, v in sub.items() if k != "revoked"})
            if sub.get("revoked"):
                keys.revoke_subkey(key, fpr)
        return key
    return make


def _revoked_primary(tmp, email):
    key = keys.make_key(tmp, email)
    keys.revoke(key)
    return key


def _preferring_aes128(tmp, email):
    key = keys.make_key(tmp, email)
    keys.set_preferences(key, "AES128 SHA256 ZLIB")
    return key


CASES = {
    "ed25519 with a cv25519 subkey": Case(_with_subkeys(faked_time=None), True, True),
    "rsa-3072": Case(_with_subkeys(algo="rsa3072", faked_time=None), True, True),
    "two encryption subkeys": Case(_with_subkeys({"faked_time": LATER}), True, True),
    "an expired encryption subkey and a valid newer one": Case(
        _with_subkeys({"expire": "1d", "faked_time": PAST}, {"faked_time": LATER}, encryption=False), True, True),
    "a valid encryption subkey and an expired newer one": Case(
        _with_subkeys({"expire": "1d", "faked_time": LATER}), True, True),
    "a newer encryption subkey revoked": Case(_with_subkeys({"faked_time": LATER, "revoked": True}), True, True),
    "a newer encryption subkey not yet valid": Case(_with_subkeys({"faked_time": "20350101T000000"}), True, True),
    "a newer rsa subkey without the encryption flag": Case(
        _with_subkeys({"algo": "rsa2048", "usage": "auth", "faked_time": LATER}), True, True),
    "the only encryption subkey expired": Case(
        _with_subkeys({"expire": "1d", "faked_time": PAST}, encryption=False), False, False),
    "the only encryption subkey revoked": Case(_with_subkeys({"faked_time": LATER, "revoked": True},
                                                             encryption=False), False, False),
    "the only subkey without the encryption flag": Case(
        _with_subkeys({"algo": "rsa2048", "usage": "auth"}, encryption=False), False, False),
    "an expired primary": Case(lambda tmp, email: keys.expired_key(tmp, email), False, False),
    "a revoked primary": Case(_revoked_primary, False, False),
    "two encryption subkeys made in one second": Case(
        _with_subkeys({"faked_time": LATER + "!"}, {"faked_time": LATER + "!"}, encryption=False), True, False),
    "an rsa primary that encrypts, no subkey": Case(
        _with_subkeys(algo="rsa2048", usage="sign,encr", encryption=False, faked_time=None), True, False),
    "preferred ciphers without aes-256": Case(_preferring_aes128, True, False),
}


@pytest.fixture(scope="module")
def recipients(session_dir):
    return {name: case.make(session_dir, f"r{i}@police.test") for i, (name, case) in enumerate(CASES.items())}


@pytest.fixture(scope="module")
def hub(session_dir, recipients):
    """The hub's home: its own key (made by the code under test) and every recipient's public key, read once."""
    gpg = Gpg(session_dir / "encrypting-hub")
    fpr = gpg.generate_key("Hub <hub@ocam.test>")
    for key in recipients.values():
        gpg.import_keys(key.public)
        keys.gpg(key.home, "--import", data=gpg.export_public(fpr))
    gpg.encrypt(DATA, [recipients["ed25519 with a cv25519 subkey"].fingerprint], sign_with=fpr)
    return gpg, fpr


# -- gpg's command line, in a recipient's home ------------------------------------------------------------------

@dataclass
class Opened:
    returncode: int
    plaintext: bytes
    status: str
    messages: str


def gpg_decrypt(home, message: bytes) -> Opened:
    status = home / "decrypt.status"
    proc = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--no-tty", "--status-file", str(status),
                           "--decrypt"], input=message, capture_output=True, timeout=60)
    return Opened(proc.returncode, proc.stdout, status.read_text(errors="replace"), proc.stderr.decode(errors="replace"))


def pkesk_key_ids(message: bytes) -> list[str]:
    """The key ids the session key packets of an armoured message name, in order, as gpg --list-packets reads
    them (--list-only: nothing decrypted), in a home of its own."""
    with tempfile.TemporaryDirectory(prefix="lp", dir="/tmp") as home:
        proc = subprocess.run(["gpg", "--homedir", home, "--batch", "--list-only", "--list-packets"], input=message,
                              capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return re.findall(r"^:pubkey enc packet: version 3, algo \d+, keyid ([0-9A-F]{16})$", proc.stdout.decode(),
                      re.MULTILINE)


def _decrypted_exactly(home, message: bytes, plaintext: bytes) -> Opened:
    """gpg in *home* decrypts *message* to *plaintext*, the MDC checked, with AES-256."""
    opened = gpg_decrypt(home, message)
    assert opened.returncode == 0, opened.messages
    assert opened.plaintext == plaintext
    assert "[GNUPG:] GOODMDC" in opened.status and "DECRYPTION_OKAY" in opened.status
    assert "not integrity protected" not in opened.messages
    assert "[GNUPG:] DECRYPTION_INFO 2 9" in opened.status  # MDC, AES-256
    return opened


# -- the cases ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_encrypted_to_the_subkey_gpg_chooses_or_refused_as_gpg_refuses(hub, recipients, monkeypatch, name):
    """Each key: gpg's own --encrypt (in process off) and the adapter refuse alike; where gpg encrypts, the message
    here names the same subkey and the recipient's gpg opens it to exactly the data; in process without a gpg
    process exactly where the choice is plain."""
    gpg, _ = hub
    case, key = CASES[name], recipients[name]
    try:
        theirs = Gpg(gpg.home, in_process=False).encrypt(DATA, [key.fingerprint])
    except KeyUnusable:
        theirs = None
    assert (theirs is not None) == case.gpg_encrypts
    runs = GpgRuns(gpg, monkeypatch)
    if theirs is None:
        with pytest.raises(KeyUnusable):
            gpg.encrypt(DATA, [key.fingerprint])
        assert runs.count == 1 and key.fingerprint not in gpg._encryption_keys(time.time())
        return
    ours = gpg.encrypt(DATA, [key.fingerprint])
    assert runs.count == (0 if case.in_process else 1)
    assert pkesk_key_ids(ours) == pkesk_key_ids(theirs)
    if case.in_process:
        _decrypted_exactly(key.home, ours, DATA)
    else:
        assert gpg_decrypt(key.home, ours).plaintext == DATA


def test_several_recipients_each_open_it(hub, recipients, monkeypatch):
    """One message to three keys (and one of them named twice): a session key packet to each subkey gpg would
    choose, once, in gpg's order; each recipient's gpg opens it; no gpg process."""
    gpg, _ = hub
    names = ["ed25519 with a cv25519 subkey", "rsa-3072", "two encryption subkeys"]
    fprs = [recipients[n].fingerprint for n in names]
    runs = GpgRuns(gpg, monkeypatch)
    ours = gpg.encrypt(DATA, [*fprs, fprs[0]])
    assert runs.count == 0
    theirs = Gpg(gpg.home, in_process=False).encrypt(DATA, [*fprs, fprs[0]])
    assert sorted(pkesk_key_ids(ours)) == sorted(pkesk_key_ids(theirs)) and len(pkesk_key_ids(ours)) == 3
    for name in names:
        _decrypted_exactly(recipients[name].home, ours, DATA)


def test_one_unusable_recipient_leaves_the_message_to_gpg(hub, recipients):
    """A message to a usable key and an expired one: refused (gpg's reason), never encrypted to the usable one alone."""
    gpg, _ = hub
    usable, expired = recipients["ed25519 with a cv25519 subkey"], recipients["an expired primary"]
    with pytest.raises(KeyUnusable):
        gpg.encrypt(DATA, [usable.fingerprint, expired.fingerprint])
    with pytest.raises(KeyUnusable):
        gpg.encrypt(DATA, [usable.fingerprint, "F" * 40])


@pytest.mark.parametrize("size", [0, 1, 170, 191, 192, 8383, 8384, 70_000, (1 << 20) + 3])
def test_plaintext_of_every_length_opens_exactly(hub, recipients, size):
    """Lengths across the packet length encodings (one, two and five octets): gpg opens exactly the bytes given."""
    gpg, _ = hub
    key = recipients["ed25519 with a cv25519 subkey"]
    data = random.Random(size).randbytes(size)
    _decrypted_exactly(key.home, gpg.encrypt(data, [key.fingerprint]), data)


@pytest.mark.parametrize("name", ["ed25519 with a cv25519 subkey", "rsa-3072"])
def test_signed_inside_by_the_key_the_caller_names(hub, recipients, monkeypatch, name):
    """sign_with: one-pass signature, literal data, signature inside the encryption (RFC 3156 §6.2 combined); the
    recipient's gpg reports a good signature by the hub's key, the adapter's decrypt too; no gpg process. A second
    hub key (a rotation) signs when it is the one named."""
    gpg, hub_fpr = hub
    key = recipients[name]
    runs = GpgRuns(gpg, monkeypatch)
    ours = gpg.encrypt(DATA, [key.fingerprint], sign_with=hub_fpr)
    assert runs.count == 0
    opened = _decrypted_exactly(key.home, ours, DATA)
    assert f"[GNUPG:] VALIDSIG {hub_fpr}" in opened.status and "[GNUPG:] GOODSIG" in opened.status
    check = Gpg(key.home).decrypt(ours).signature
    assert check is not None and check.valid and check.primary_fingerprint == hub_fpr


def test_a_second_hub_key_signs_when_named(session_dir, recipients):
    """Two keys in the hub's home (a rotation): each signs the messages that name it, in process."""
    gpg = Gpg(keys.short_home(session_dir, "rot"))
    old, new = gpg.generate_key("Hub <hub@ocam.test>"), gpg.generate_key("Hub 2027 <hub@ocam.test>")
    key = recipients["rsa-3072"]
    gpg.import_keys(key.public)
    for signer in (old, new):
        keys.gpg(key.home, "--import", data=gpg.export_public(signer))
        check = Gpg(key.home).decrypt(gpg.encrypt(DATA, [key.fingerprint], sign_with=signer)).signature
        assert check is not None and check.valid and check.primary_fingerprint == signer


def test_a_hub_key_signing_with_a_subkey_signs_inside(session_dir, recipients, monkeypatch):
    """A hub key whose primary only certifies: its signing subkey makes the one-pass signature and the signature,
    in process; the recipient's gpg checks it good, made by that subkey under the hub's primary."""
    made = keys.make_key(session_dir, "hub-sub@ocam.test", signing_subkey=True)
    gpg = Gpg(keys.short_home(session_dir, "hsub"))
    gpg.import_secret_key(keys.gpg(made.home, "--armor", "--export-secret-keys", made.fingerprint))
    key = recipients["ed25519 with a cv25519 subkey"]
    gpg.import_keys(key.public)
    keys.gpg(key.home, "--import", data=made.public)
    gpg.encrypt(DATA, [key.fingerprint], sign_with=made.fingerprint)
    runs = GpgRuns(gpg, monkeypatch)
    ours = gpg.encrypt(DATA, [key.fingerprint], sign_with=made.fingerprint)
    assert runs.count == 0
    check = Gpg(key.home).decrypt(ours).signature
    assert check is not None and check.valid and check.primary_fingerprint == made.fingerprint
    assert check.signing_fingerprint == keys.subkeys(made)[0]  # the signing subkey, made first


def test_an_unknown_signer_is_refused_as_gpg_refuses(hub, recipients):
    gpg, _ = hub
    with pytest.raises(KeyUnusable):
        gpg.encrypt(DATA, [recipients["rsa-3072"].fingerprint], sign_with="E" * 40)


@pytest.mark.parametrize("name", ["ed25519 with a cv25519 subkey", "rsa-3072"])
def test_a_flipped_bit_is_refused(hub, recipients, name):
    """Any bit flipped in the session key packet or the encrypted data: gpg refuses (MDC or decryption failure),
    and so does the adapter's decrypt; the armour is made again so that its checksum is no help."""
    gpg, _ = hub
    key = recipients[name]
    binary = o.dearmor(gpg.encrypt(DATA, [key.fingerprint], sign_with=hub[1]))
    rng = random.Random(name)
    for pos in sorted(rng.sample(range(len(binary)), 24)) + [len(binary) - 1, len(binary) - 21]:
        altered = binary[:pos] + bytes([binary[pos] ^ (1 << rng.randrange(8))]) + binary[pos + 1:]
        message = o.armor(altered, "PGP MESSAGE")
        opened = gpg_decrypt(key.home, message)
        assert opened.returncode != 0 and "GOODMDC" not in opened.status, (pos, opened.status)
        with pytest.raises(DecryptionFailed):
            Gpg(key.home).decrypt(message)


def test_the_choice_follows_a_subkey_expiring(session_dir, monkeypatch):
    """A newer encryption subkey that expires in seconds: encrypted to while valid; once expired, the keyring is
    read again (two gpg processes) and the older subkey, gpg's choice then, is encrypted to in process."""
    key = keys.make_key(session_dir, "soon@police.test", faked_time=PAST)
    older = keys.subkeys(key)[0]
    newer = keys.add_subkey(key, expire="seconds=4")
    gpg = Gpg(keys.short_home(session_dir, "exp"))
    gpg.import_keys(key.public)
    assert pkesk_key_ids(gpg.encrypt(DATA, [key.fingerprint])) == [newer[-16:]]
    deadline = time.monotonic() + 20
    while "sub:e:" not in keys.gpg(gpg.home, "--with-colons", "--list-keys").decode() and time.monotonic() < deadline:
        time.sleep(0.5)
    runs = GpgRuns(gpg, monkeypatch)
    ours = gpg.encrypt(DATA, [key.fingerprint])
    assert runs.count == 2 and pkesk_key_ids(ours) == [older[-16:]]
    assert pkesk_key_ids(Gpg(gpg.home, in_process=False).encrypt(DATA, [key.fingerprint])) == [older[-16:]]
    _decrypted_exactly(key.home, ours, DATA)


def test_in_process_off_encrypts_with_gpg(hub, recipients, monkeypatch):
    """crypto.in_process = false: every encryption is a gpg process."""
    gpg, _ = hub
    alone = Gpg(gpg.home, in_process=False)
    runs = GpgRuns(alone, monkeypatch)
    alone.encrypt(DATA, [recipients["rsa-3072"].fingerprint])
    assert runs.count == 1
