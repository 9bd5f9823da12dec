"""Subkey bindings, differentially: crafted keys and signatures where the in-process verdict either is gpg's or
is left to gpg, never "good" where gpg says otherwise; what gpg 2.2.40 says of each is asserted too."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Callable

import pytest

from crypto.openpgp.gpg import Gpg
from tests.support import keys
from tests.support import openpgp as o

NOW = int(time.time())
DAY = 86400
UID = "Crafted <crafted@customs.test>"
DATA = b"Content-Type: text/plain\r\n\r\nConvoy leaves at 06:00\r\n"


@dataclass
class Case:
    """A key (primary, uid, one signing subkey with the signatures built) and a data signature by signer."""

    name: str
    gpg_says: str  # gpg 2.2.40's verdict (SignatureCheck.status), measured
    in_process: bool  # whether the in-process path may decide (only ever "good")
    signatures: Callable[[o.Key, o.Key], list[bytes]] = lambda p, s: [o.binding(p, s, back=o.back_signature(p, s))]
    sig: dict | None = None  # detached() keywords
    data: bytes = DATA
    signer: str = "sub"  # or "primary"
    key_held: bool | None = None  # the subkey in the in-process key set (default: as in_process)

    @property
    def held(self) -> bool:
        return self.in_process if self.key_held is None else self.key_held


def _foreign(p: o.Key, s: o.Key) -> o.Key:
    return o.Key(p.created - DAY)


CASES = [
    Case("cross-certified", "good", True),
    Case("back-signature in the unhashed area", "good", True,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s), back_unhashed=True)]),
    Case("primary key signs", "good", True, signer="primary"),
    Case("unknown non-critical subpacket in the data signature", "good", True,
         sig={"hashed": o.subpacket(99, b"x")}),
    Case("no back-signature", "error", False, lambda p, s: [o.binding(p, s)]),
    Case("bad back-signature", "error", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s, corrupt=True))]),
    Case("back-signature by another key", "error", False,
         lambda p, s: [o.binding(p, s, back=o.signature(_foreign(p, s), o.PRIMARY_BINDING,
                                                        o.key_hash_input(p) + o.key_hash_input(s), created=s.created))]),
    Case("back-signature older than the subkey", "error", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s, created=s.created - 100))]),
    Case("unknown critical subpacket in the back-signature", "error", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s, hashed=o.subpacket(99, b"x", critical=True)))]),
    Case("binding by another primary only", "no_public_key", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s), signer=_foreign(p, s))]),
    Case("a good binding and one by another primary", "good", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s)),
                       o.binding(p, s, back=o.back_signature(p, s), signer=_foreign(p, s))]),
    Case("unknown critical subpacket in the binding", "no_public_key", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s), hashed=o.subpacket(99, b"x", critical=True))]),
    Case("expired subkey", "expired_key", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s), expires_after=2 * DAY)]),
    Case("revoked subkey", "revoked_key", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s)), o.subkey_revocation(p, s, created=NOW - 2 * DAY)]),
    Case("subkey without the signing flag", "error", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s), flags=o.CERTIFY)]),
    Case("SHA-1 binding", "good", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s), hash_id=o.SHA1)]),
    Case("SHA-1 back-signature", "good", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s, hash_id=o.SHA1))]),
    Case("newer binding without back-signature", "error", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s)), o.binding(p, s, created=s.created + 100)]),
    Case("newer SHA-1 binding without back-signature", "error", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s)),
                       o.binding(p, s, created=s.created + 100, hash_id=o.SHA1)]),
    Case("expired binding signature", "error", False,
         lambda p, s: [o.binding(p, s, back=o.back_signature(p, s),
                                 hashed=o.subpacket(o.SIG_EXPIRES, o.u32(DAY)))]),
    Case("data signature older than the subkey", "time_conflict", False, sig={"created": NOW - 6 * DAY}, key_held=True),
    Case("unknown critical subpacket in the data signature", "bad", False,
         sig={"hashed": o.subpacket(99, b"x", critical=True)}, key_held=True),
    Case("expired data signature", "expired_signature", False,
         sig={"created": NOW - 3 * DAY, "hashed": o.subpacket(o.SIG_EXPIRES, o.u32(DAY))}, key_held=True),
    Case("text mode over text with a space before CRLF", "good", True,
         sig={"sig_type": o.TEXT}, data=b"Convoy \r\nleaves\r\n"),
    Case("text mode over text gpg converts", "good", False,
         sig={"sig_type": o.TEXT, "data": b"Convoy\r\nleaves\r\n"}, data=b"Convoy\r\r\nleaves\n", key_held=True),
]


@dataclass
class Made:
    case: Case
    primary: o.Key
    sub: o.Key
    data: bytes
    signature: bytes
    block: bytes


def _make(case: Case) -> Made:
    primary, sub = o.Key(NOW - 10 * DAY), o.Key(NOW - 5 * DAY)
    block = o.transferable(primary, UID, [(sub, case.signatures(primary, sub))])
    sig = dict(case.sig or {})
    signed = sig.pop("data", case.data)
    sig.setdefault("created", NOW - DAY)
    signer = sub if case.signer == "sub" else primary
    return Made(case, primary, sub, case.data, o.detached(signer, signed, **sig), block)


@pytest.fixture(scope="module")
def judged(session_dir):
    """Every case's key imported into one GnuPG home (gpg's own import decides what it keeps)."""
    home = session_dir / "bindings"
    Gpg(home)
    made = {case.name: _make(case) for case in CASES}
    for m in made.values():
        keys.gpg(home, "--import", data=m.block)
    return home, made


def gpg_cli(home, data: bytes, signature: bytes) -> list[str]:
    """The status keywords of `gpg --verify` itself (not through crypto/)."""
    (home / "data.bin").write_bytes(data)
    (home / "data.asc").write_bytes(signature)
    proc = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--status-fd", "1", "--trust-model", "always",
                           "--verify", str(home / "data.asc"), str(home / "data.bin")], capture_output=True, timeout=60)
    return [line.split()[1] for line in proc.stdout.decode().splitlines() if line.startswith("[GNUPG:] ")]


def fields(check):
    return check.status, check.primary_fingerprint, check.signing_fingerprint, check.signed_at, check.hash_algorithm


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_in_process_verdict_is_gpgs_or_left_to_gpg(judged, name):
    """The verdict with the in-process path is gpg's alone (same fields); the path decides only where the
    binding is plainly cross-certified; gpg's command line agrees."""
    home, made = judged
    m = made[name]
    here = Gpg(home).verify_detached(m.data, m.signature)
    alone = Gpg(home, in_process=False).verify_detached(m.data, m.signature)
    assert fields(here) == fields(alone)
    assert alone.status == m.case.gpg_says, alone.detail
    assert here.detail.endswith("(in process)") == m.case.in_process, here.detail
    cli = gpg_cli(home, m.data, m.signature)
    assert ("GOODSIG" in cli and "VALIDSIG" in cli) == (alone.status == "good"), cli
    if here.valid:
        signer = m.sub if m.case.signer == "sub" else m.primary
        assert (here.primary_fingerprint, here.signing_fingerprint) == (m.primary.fingerprint, signer.fingerprint)


def test_only_cross_certified_subkeys_are_held_in_process(judged):
    """The key set read in process holds a case's subkey exactly where the case is decided in process."""
    home, made = judged
    held = Gpg(home)._signing_keys()
    for m in made.values():
        if m.case.signer == "sub":
            assert (m.sub.fingerprint in held) == m.case.held, m.case.name


# -- one subkey under two primaries ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def victims(session_dir):
    """Partners' keys made by gpg: one signing with a subkey (certify-only primary), one with its primary."""
    return {"signing subkey": keys.make_key(session_dir, "victim@police.test", name="Victim", signing_subkey=True),
            "primary key": keys.make_key(session_dir, "victim@customs.test", name="Victim")}


def _signing_fingerprint(key: keys.TestKey) -> str:
    out = keys.gpg(key.home, "--with-colons", "--list-keys", key.fingerprint).decode()
    records = [line.split(":") for line in out.splitlines() if line.startswith(("pub", "sub", "fpr"))]
    return next(records[i + 1][9] for i, f in enumerate(records) if f[0] in ("pub", "sub") and "s" in f[11])


def thief_key(victim: keys.TestKey, stolen: str) -> bytes:
    """A key binding the victim's (sub)key *stolen* under the thief's own primary, for signing, without the
    victim's back-signature (the thief has not its secret)."""
    exported = keys.gpg(victim.home, "--export", victim.fingerprint)
    taken = o.key_of(exported, stolen)
    thief = o.Key(NOW - 3 * DAY)
    return o.public_key_block(o.transferable(thief, "Thief <thief@police.test>",
                                             [(taken, [o.binding(thief, taken, created=NOW - 2 * DAY)])]))


def _imported(home, block: bytes) -> bool:
    proc = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--import"], input=block, capture_output=True,
                          timeout=60)
    return proc.returncode == 0


@pytest.mark.parametrize("order", ["victim first", "thief first"])
@pytest.mark.parametrize("stolen", ["signing subkey", "primary key"])
def test_a_key_under_two_primaries_is_left_to_gpg(gpg_dir, victims, order, stolen):
    """The victim's signing (sub)key bound again under a thief's primary without its back-signature: the
    in-process path holds it under neither primary and gives gpg's verdict. gpg takes the keyblock it meets
    first: the victim's (good, the victim named), or the thief's (refused: not cross-certified); never the
    thief named. (gpg may refuse the second import, "doesn't match our copy": the same verdicts hold.)"""
    victim = victims[stolen]
    fpr = _signing_fingerprint(victim)
    home = gpg_dir / "hub"
    Gpg(home)
    blocks = [victim.public, thief_key(victim, fpr)]
    imported = [_imported(home, block) for block in (blocks if order == "victim first" else blocks[::-1])]
    assert imported[0]
    assert fpr not in Gpg(home)._signing_keys()
    sig = keys.sign_detached(victim, DATA)
    here, alone = Gpg(home).verify_detached(DATA, sig), Gpg(home, in_process=False).verify_detached(DATA, sig)
    assert fields(here) == fields(alone) and not here.detail.endswith("(in process)")
    assert here.status == ("good" if order == "victim first" else "error"), here.detail
    if here.valid:
        assert here.primary_fingerprint == victim.fingerprint


def test_signature_naming_two_keys_is_left_to_gpg(judged):
    """A data signature whose hashed issuer fingerprint and unhashed key id name different keys: gpg decides."""
    home, made = judged
    m, other = made["cross-certified"], made["back-signature in the unhashed area"]
    body = o.signature(m.sub, o.BINARY, DATA, created=NOW - DAY, unhashed=other.sub.unhashed_issuer())
    sig = o.armor(o.packet(o.TAG_SIGNATURE, body))
    here, alone = Gpg(home).verify_detached(DATA, sig), Gpg(home, in_process=False).verify_detached(DATA, sig)
    assert fields(here) == fields(alone) and not here.detail.endswith("(in process)")
