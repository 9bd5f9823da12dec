"""Encryption subkeys under crafted bindings, differentially: a real cv25519 subkey made by gpg (a donor's, whose
home can decrypt) bound under a crafted primary as an attacker or a careless implementation would; the in-process
path encrypts to it only where its binding is plainly good, and otherwise gpg decides. What gpg 2.2.40 does with
each is asserted too."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Callable

import pytest

from crypto.errors import KeyUnusable
from crypto.openpgp.gpg import Gpg
from tests.crypto.openpgp.test_encrypt import DATA, PAST, gpg_decrypt, pkesk_key_ids
from tests.support import keys
from tests.support import openpgp as o

NOW = int(time.time())
DAY = 86400
UID = "Crafted <crafted@customs.test>"
AES256, AES128 = 9, 7


def prefs(*ciphers: int) -> bytes:
    return o.subpacket(o.PREFERRED_CIPHERS, bytes(ciphers))


def _bad_binding(p: o.Key, s: o.Key) -> bytes:
    return o.signature(p, o.SUBKEY_BINDING, o.key_hash_input(p) + o.key_hash_input(s), created=s.created,
                       hashed=o.subpacket(o.KEY_FLAGS, bytes([o.ENCRYPT])), corrupt=True)


def _foreign(p: o.Key) -> o.Key:
    return o.Key(p.created)


@dataclass
class Case:
    name: str
    gpg_encrypts: bool  # gpg 2.2.40 encrypts to the crafted key (measured)
    in_process: bool  # the subkey is among the keys encrypted to in process
    signatures: Callable[[o.Key, o.Key], list[bytes]] = lambda p, s: [o.binding(p, s, flags=o.ENCRYPT)]
    preferences: bytes | None = prefs(AES256, 8, AES128)  # in the self-certification; None: none stated
    certifications: Callable[[o.Key], list[bytes]] = lambda p: []


CASES = [
    Case("bound for encryption", True, True),
    Case("bound to encrypt communications only", True, True, lambda p, s: [o.binding(p, s, flags=o.ENCRYPT_COMMS)]),
    Case("bound to encrypt storage only", True, True, lambda p, s: [o.binding(p, s, flags=o.ENCRYPT_STORAGE)]),
    Case("binding without key flags", True, False, lambda p, s: [o.binding(p, s, flags=None)]),
    Case("bound for signing only", False, False, lambda p, s: [o.binding(p, s, flags=o.SIGN)]),
    Case("bad binding signature", False, False, lambda p, s: [_bad_binding(p, s)]),
    Case("binding by another key", False, False,
         lambda p, s: [o.binding(p, s, flags=o.ENCRYPT, signer=_foreign(p))]),
    Case("unknown critical subpacket in the binding", False, False,
         lambda p, s: [o.binding(p, s, flags=o.ENCRYPT, hashed=o.subpacket(99, b"x", critical=True))]),
    Case("SHA-1 binding", True, False, lambda p, s: [o.binding(p, s, flags=o.ENCRYPT, hash_id=o.SHA1)]),
    Case("expired subkey", False, False, lambda p, s: [o.binding(p, s, flags=o.ENCRYPT, expires_after=DAY)]),
    Case("revoked subkey", False, False,
         lambda p, s: [o.binding(p, s, flags=o.ENCRYPT), o.subkey_revocation(p, s, created=NOW - DAY)]),
    Case("binding made in the future", True, False,
         lambda p, s: [o.binding(p, s, flags=o.ENCRYPT, created=NOW + 10 * DAY)]),
    Case("newer binding for signing only", False, False,
         lambda p, s: [o.binding(p, s, flags=o.ENCRYPT), o.binding(p, s, flags=o.SIGN, created=s.created + 100)]),
    # gpg keeps only the newest binding of a subkey at import: what it stores is judged
    Case("older binding for signing only", True, True,
         lambda p, s: [o.binding(p, s, flags=o.SIGN), o.binding(p, s, flags=o.ENCRYPT, created=s.created + 100)]),
    Case("no preferred ciphers stated", True, False, preferences=None),
    Case("preferred ciphers without AES-256", True, False, preferences=prefs(AES128)),
    Case("another key's certification preferring AES-128", True, True,
         certifications=lambda p: [o.self_certification(p, UID, hashed=prefs(AES128), signer=_foreign(p))]),
]


@pytest.fixture(scope="module")
def donor(session_dir):
    """A key made by gpg in 2025: its cv25519 subkey is bound under every crafted primary; its home decrypts."""
    key = keys.make_key(session_dir, "donor@customs.test", faked_time=PAST)
    [sub] = keys.subkeys(key)
    return key, o.key_of(keys.gpg(key.home, "--export", key.fingerprint), sub)


def _imported(home, block: bytes) -> bool:
    proc = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--import"], input=block, capture_output=True,
                          timeout=60)
    return proc.returncode == 0


def _encrypt(gpg: Gpg, fpr: str) -> bytes | None:
    try:
        return gpg.encrypt(DATA, [fpr])
    except KeyUnusable:
        return None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_crafted_binding_encrypted_to_here_only_when_plainly_good(gpg_dir, donor, case):
    """The crafted key imported alone into a hub's home: held in process exactly where the case says; the adapter
    refuses where gpg refuses; where gpg encrypts, the message here names the same subkey and the donor opens it."""
    key, sub = donor
    primary = o.Key(sub.created - DAY)
    certification = o.self_certification(primary, UID, hashed=case.preferences or b"")
    block = o.public_key_block(o.transferable(primary, UID, [(sub, case.signatures(primary, sub))],
                                              certification=certification,
                                              certifications=case.certifications(primary)))
    home = gpg_dir / "hub"
    Gpg(home)
    assert _imported(home, block)
    gpg = Gpg(home)
    assert (primary.fingerprint in gpg._encryption_keys(time.time())) == case.in_process
    theirs = _encrypt(Gpg(home, in_process=False), primary.fingerprint)
    assert (theirs is not None) == case.gpg_encrypts
    ours = _encrypt(gpg, primary.fingerprint)
    assert (ours is not None) == case.gpg_encrypts
    if ours is not None:
        assert pkesk_key_ids(ours) == pkesk_key_ids(theirs) == [sub.key_id]
        opened = gpg_decrypt(key.home, ours)
        assert opened.returncode == 0 and opened.plaintext == DATA and "[GNUPG:] GOODMDC" in opened.status


@pytest.mark.parametrize("order", ["victim first", "thief first"])
def test_an_encryption_subkey_under_two_primaries_is_left_to_gpg(gpg_dir, session_dir, order):
    """A victim's encryption subkey bound again under a thief's primary: held in process under neither; whatever
    either is encrypted to is gpg's choice (gpg may refuse the second import: the same holds)."""
    victim = keys.make_key(session_dir, "victim@police.test", name="Victim")
    [stolen] = keys.subkeys(victim)
    taken = o.key_of(keys.gpg(victim.home, "--export", victim.fingerprint), stolen)
    thief = o.Key(taken.created - DAY)
    thief_block = o.public_key_block(o.transferable(
        thief, "Thief <thief@police.test>", [(taken, [o.binding(thief, taken, flags=o.ENCRYPT)])],
        certification=o.self_certification(thief, "Thief <thief@police.test>", hashed=prefs(AES256))))
    home = gpg_dir / "hub"
    Gpg(home)
    blocks = [victim.public, thief_block]
    imported = [_imported(home, b) for b in (blocks if order == "victim first" else blocks[::-1])]
    assert imported[0]
    gpg = Gpg(home)
    held = gpg._encryption_keys(time.time())
    assert victim.fingerprint not in held and thief.fingerprint not in held
    for fpr in (victim.fingerprint, thief.fingerprint):
        theirs, ours = _encrypt(Gpg(home, in_process=False), fpr), _encrypt(gpg, fpr)
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert pkesk_key_ids(ours) == pkesk_key_ids(theirs)
