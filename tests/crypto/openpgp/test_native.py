"""Signatures checked and made in process: the same verdicts as gpg, gpg deciding everything else."""

from __future__ import annotations

import random

import pytest

from crypto.openpgp import native
from crypto.errors import PacketError
from crypto.openpgp.gpg import Gpg
from crypto.openpgp.packets import armor, dearmor, packets, signature_packet
from tests.support import keys

DATA = b"Content-Type: text/plain\r\n\r\nURGENT: convoy leaves at 06:00\r\n"


class GpgRuns:
    """Counts the gpg processes a Gpg starts (the in-process path starts none)."""

    def __init__(self, gpg: Gpg, monkeypatch) -> None:
        self.count = 0
        run = gpg._engine.run

        def counted(*args, **kwargs):
            self.count += 1
            return run(*args, **kwargs)

        monkeypatch.setattr(gpg._engine, "run", counted)


def _same_verdict(home, data: bytes, signature: bytes):
    """The verdict with the in-process path, and gpg's alone, on the same home."""
    here = Gpg(home).verify_detached(data, signature)
    alone = Gpg(home, in_process=False).verify_detached(data, signature)
    fields = lambda c: (c.status, c.primary_fingerprint, c.signing_fingerprint, c.signed_at, c.hash_algorithm)  # noqa: E731
    assert fields(here) == fields(alone)
    return here


@pytest.fixture(scope="module")
def nist_signer(session_dir):
    return keys.make_key(session_dir, "nist@customs.test", algo="nistp256")


@pytest.fixture(scope="module")
def rsa_signer(session_dir):
    return keys.make_key(session_dir, "rsa@intel.test", algo="rsa2048")


@pytest.fixture(scope="module")
def partners_home(session_dir, alice, subkey_signer, nist_signer, rsa_signer):
    gpg = Gpg(session_dir / "partners")
    for key in (alice, subkey_signer, nist_signer, rsa_signer):
        gpg.import_keys(key.public)
    return gpg


@pytest.mark.parametrize("who", ["alice", "subkey_signer", "nist_signer", "rsa_signer"])
@pytest.mark.parametrize("digest", ["SHA256", "SHA512"])
def test_partner_signature_is_good_in_process_with_gpgs_fields(request, partners_home, monkeypatch, who, digest):
    """Ed25519 (primary or subkey), ECDSA P-256 and RSA-2048 signatures by gpg: good without running gpg,
    with the primary and signing fingerprints, time and digest gpg itself reports."""
    key = request.getfixturevalue(who)
    sig = keys.sign_detached(key, DATA, digest=digest)
    check = _same_verdict(partners_home.home, DATA, sig)
    assert check.valid and check.primary_fingerprint == key.fingerprint and check.hash_algorithm == digest
    partners_home.verify_detached(DATA, sig)  # reads the keyring (once per change)
    runs = GpgRuns(partners_home, monkeypatch)
    again = partners_home.verify_detached(DATA, sig)
    assert again.detail.endswith("(in process)") and runs.count == 0


def test_text_mode_signature_over_canonical_text_is_good_in_process(partners_home, alice):
    """A --textmode signature (type 0x01) over CRLF text verifies here; over LF text gpg decides (good too)."""
    sig = keys.gpg(alice.home, "--armor", "--textmode", "--detach-sign", "--local-user", alice.fingerprint, data=DATA)
    assert signature_packet(packets(dearmor(sig))[0].body).sig_type == native.TEXT
    assert _same_verdict(partners_home.home, DATA, sig).detail.endswith("(in process)")
    lf = DATA.replace(b"\r\n", b"\n")
    sig_lf = keys.gpg(alice.home, "--armor", "--textmode", "--detach-sign", "--local-user", alice.fingerprint, data=lf)
    check = _same_verdict(partners_home.home, lf, sig_lf)
    assert check.valid and not check.detail.endswith("(in process)")


def test_no_altered_byte_is_good_in_process(partners_home, alice):
    """Any flipped bit of the data or of the signed part of the signature: never good here, bad from gpg."""
    binary = dearmor(keys.sign_detached(alice, DATA))
    head_len = 2  # new-format header, one-octet length
    body = binary[head_len:]
    hashed_end = 6 + int.from_bytes(body[4:6], "big")
    unhashed_end = hashed_end + 2 + int.from_bytes(body[hashed_end:hashed_end + 2], "big")
    signed_positions = [p for p in range(len(body)) if not hashed_end + 2 <= p < unhashed_end]
    rng = random.Random(7)
    for pos in signed_positions:
        bit = 1 << rng.randrange(8)
        altered = binary[:head_len] + body[:pos] + bytes([body[pos] ^ bit]) + body[pos + 1:]
        assert native.verify(partners_home._signing_keys(), DATA, armor(altered), 2**31) is None, pos
    for pos in rng.sample(range(len(DATA)), 20):
        changed = DATA[:pos] + bytes([DATA[pos] ^ 1]) + DATA[pos + 1:]
        assert native.verify(partners_home._signing_keys(), changed, armor(binary), 2**31) is None
        assert partners_home.verify_detached(changed, armor(binary)).status == "bad"


def test_refusals_are_gpgs(gpg_dir, session_dir, alice, stranger):
    """Expired, revoked, unknown: the in-process path leaves them to gpg, whose reason stands."""
    old = keys.expired_key(session_dir, "old@police.test")
    doomed = keys.make_key(session_dir, "doomed@police.test")
    home = Gpg(gpg_dir / "h")
    home.import_keys(old.public)
    home.import_keys(doomed.public)
    assert _same_verdict(home.home, DATA, keys.sign_detached(old, DATA)).status == "expired_key"
    assert _same_verdict(home.home, DATA, keys.sign_detached(stranger, DATA)).status == "no_public_key"
    sig = keys.sign_detached(doomed, DATA)
    assert home.verify_detached(DATA, sig).detail.endswith("(in process)")
    home.import_keys(keys.revoke(doomed))  # the keyring changes under a Gpg that read it before
    assert home.verify_detached(DATA, sig).status == "revoked_key"


def test_hub_signs_in_process_and_gpg_verifies(gpg_dir, monkeypatch):
    """The home's own Ed25519 key signs here (no gpg run once loaded); gpg's command line calls it good."""
    hub = Gpg(gpg_dir / "hub")
    fpr = hub.generate_key("Hub <hub@ocam.test>")
    hub.sign_detached(DATA, fpr)
    runs = GpgRuns(hub, monkeypatch)
    sig, micalg = hub.sign_detached(DATA, fpr)
    assert runs.count == 0 and micalg == "pgp-sha512"
    status = _gpg_verify(gpg_dir, hub.export_public(fpr), DATA, sig)
    assert f"VALIDSIG {fpr}" in status and "GOODSIG" in status
    assert "BADSIG" in _gpg_verify(gpg_dir, hub.export_public(fpr), DATA + b"x", sig)


def test_rsa_hub_key_signs_in_process(gpg_dir, rsa_signer):
    """An imported unprotected RSA secret key signs here too, and gpg verifies it."""
    secret = keys.gpg(rsa_signer.home, "--armor", "--export-secret-keys", rsa_signer.fingerprint)
    hub = Gpg(gpg_dir / "hub")
    hub.import_secret_key(secret)
    assert hub._signer(rsa_signer.fingerprint) is not None
    sig, _ = hub.sign_detached(DATA, rsa_signer.fingerprint)
    assert "GOODSIG" in _gpg_verify(gpg_dir, rsa_signer.public, DATA, sig)


def test_protected_key_is_left_to_gpg(gpg_dir):
    """A secret key under a passphrase is not read in process."""
    home = keys.short_home(gpg_dir)
    keys.gpg(home, "--passphrase", "s3cret", "--quick-gen-key", "P <p@ocam.test>", "ed25519", "sign", "0")
    hub = Gpg(home)
    [fpr] = hub.secret_fingerprints()
    assert hub._signer(fpr) is None


def _gpg_verify(gpg_dir, public: bytes, data: bytes, sig: bytes) -> str:
    home = keys.short_home(gpg_dir, "v")
    keys.gpg(home, "--import", data=public)
    (home / "d").write_bytes(data)
    (home / "d.asc").write_bytes(sig)
    try:
        keys.gpg(home, "--status-file", str(home / "status"), "--verify", str(home / "d.asc"), str(home / "d"))
    except RuntimeError:
        pass
    return (home / "status").read_text()


def test_armor_round_trip_and_checksum():
    """Armor carries bytes both ways; a wrong CRC-24 or a truncated packet is refused."""
    data = bytes(range(256)) * 3
    assert dearmor(armor(data)) == data
    lines = armor(data).split(b"\n")
    crc = next(i for i, line in enumerate(lines) if line.startswith(b"=") and len(line) == 5)
    lines[crc] = b"=AAAA" if lines[crc] != b"=AAAA" else b"=AAAB"
    with pytest.raises(PacketError):
        dearmor(b"\n".join(lines))
    with pytest.raises(PacketError):
        packets(bytes([0xC2, 50]) + b"short")
