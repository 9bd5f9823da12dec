"""The python-gnupg adapter: verification statuses, keys, decryption, signing, failures."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timezone

import pytest

from crypto.errors import DecryptionFailed, GpgUnavailable, KeyImportError, KeyUnusable
from crypto.openpgp.gpg import Gpg
from tests.support import keys

DATA = b"Content-Type: text/plain\r\n\r\nFLASH: convoy at 06:00\r\n"


def test_good_signature_reports_signer_and_digest(hub_gpg, alice):
    """A signature by a known key is good, with primary fingerprint, time and digest."""
    check = hub_gpg.verify_detached(DATA, keys.sign_detached(alice, DATA))
    assert check.valid and check.status == "good"
    assert check.primary_fingerprint == alice.fingerprint == check.signing_fingerprint
    assert check.hash_algorithm == "SHA256"
    assert abs((datetime.now(timezone.utc) - check.signed_at).total_seconds()) < 120
    assert "FLASH" not in check.detail


def test_sha512_signature_names_its_digest(hub_gpg, alice):
    """The digest comes from VALIDSIG: SHA-512 when the sender used it."""
    check = hub_gpg.verify_detached(DATA, keys.sign_detached(alice, DATA, digest="SHA512"))
    assert check.valid and check.hash_algorithm == "SHA512"


def test_tampered_data_is_bad(hub_gpg, alice):
    """One changed byte makes the signature bad, not an exception."""
    sig = keys.sign_detached(alice, DATA)
    check = hub_gpg.verify_detached(DATA.replace(b"06:00", b"07:00"), sig)
    assert check.status == "bad" and not check.valid


def test_unknown_signer_is_no_public_key(hub_gpg, stranger):
    """A signer whose key the hub does not hold: no_public_key, with the signing fingerprint."""
    check = hub_gpg.verify_detached(DATA, keys.sign_detached(stranger, DATA))
    assert check.status == "no_public_key" and not check.valid
    assert check.signing_fingerprint in (None, stranger.fingerprint)


def test_signing_subkey_reports_primary_fingerprint(hub_gpg, subkey_signer):
    """A signature made by a subkey reports the primary key's fingerprint as the signer."""
    check = hub_gpg.verify_detached(DATA, keys.sign_detached(subkey_signer, DATA))
    assert check.valid
    assert check.primary_fingerprint == subkey_signer.fingerprint
    assert check.signing_fingerprint != subkey_signer.fingerprint
    assert check.signing_fingerprint in hub_gpg.key(subkey_signer.fingerprint).subkeys


def test_expired_key_signature_is_not_valid(gpg_dir, session_dir):
    """A signature from a key that has since expired is expired_key, never valid."""
    old = keys.expired_key(session_dir, "old@police.test")
    gpg = Gpg(gpg_dir / "h")
    gpg.import_keys(old.public)
    check = gpg.verify_detached(DATA, keys.sign_detached(old, DATA))
    assert check.status == "expired_key" and not check.valid
    assert check.primary_fingerprint == old.fingerprint
    info = gpg.key(old.fingerprint)
    assert info.expired(datetime.now(timezone.utc)) and not info.can_sign


def test_revoked_key_signature_is_not_valid(gpg_dir, session_dir):
    """A signature from a key revoked since is revoked_key, never valid."""
    gone = keys.make_key(session_dir, "gone@police.test")
    sig = keys.sign_detached(gone, DATA)
    gpg = Gpg(gpg_dir / "h")
    gpg.import_keys(keys.revoke(gone))
    check = gpg.verify_detached(DATA, sig)
    assert check.status == "revoked_key" and not check.valid
    info = gpg.key(gone.fingerprint)
    assert info.revoked and not info.can_sign and not info.can_encrypt


def test_garbage_signature_is_error_not_exception(hub_gpg):
    """A signature part that holds no signature gives status error."""
    check = hub_gpg.verify_detached(DATA, b"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n")
    assert check.status == "error" and not check.valid


def test_key_info_from_keyring_and_subkey(hub_gpg, subkey_signer):
    """key() resolves a primary or subkey fingerprint to the primary's KeyInfo."""
    info = hub_gpg.key(subkey_signer.fingerprint)
    assert info.emails == ("sub@customs.test",) and info.can_sign and info.can_encrypt
    assert len(info.subkeys) == 2 and info.expires is None and not info.revoked
    assert info.created.tzinfo is not None
    assert hub_gpg.key(info.subkeys[0]).fingerprint == subkey_signer.fingerprint
    assert hub_gpg.key("0" * 40) is None


def test_inspect_does_not_import(gpg_dir, alice):
    """inspect() describes keys in armoured or binary data and leaves the keyring empty."""
    gpg = Gpg(gpg_dir / "h")
    [info] = gpg.inspect(alice.public)
    assert info.fingerprint == alice.fingerprint and info.emails == ("alice@police.test",)
    assert gpg.key(alice.fingerprint) is None
    binary = keys.gpg(alice.home, "--export", alice.fingerprint)
    assert [k.fingerprint for k in gpg.inspect(binary)] == [alice.fingerprint]


def test_inspect_interop_keys(gpg_dir):
    """Expired, revoked and sign-only keys of other projects are described as such."""
    from tests.crypto.conftest import INTEROP
    gpg = Gpg(gpg_dir / "h")
    now = datetime.now(timezone.utc)
    [expired] = gpg.inspect((INTEROP / "expired_key.txt").read_bytes())
    assert expired.expired(now) and not expired.can_sign
    [revoked] = gpg.inspect((INTEROP / "revoked_key.txt").read_bytes())
    assert revoked.revoked
    [signonly] = gpg.inspect((INTEROP / "signonly_key.txt").read_bytes())
    assert signonly.can_sign and not signonly.can_encrypt
    [binary] = gpg.inspect((INTEROP / "example_key_binary.pgp").read_bytes())
    assert len(binary.fingerprint) == 40


def test_import_without_keys_raises(hub_gpg):
    """Data holding no key is refused with KeyImportError."""
    with pytest.raises(KeyImportError):
        hub_gpg.import_keys(b"not a key")


def test_home_is_created_private(gpg_dir):
    """A missing home is created with mode 0700."""
    Gpg(gpg_dir / "new" / "home")
    assert stat.S_IMODE((gpg_dir / "new" / "home").stat().st_mode) == 0o700


def test_sign_and_encrypt_round_trip(hub_gpg, hub_fpr, alice):
    """The hub signs (micalg named) and encrypts to alice; alice's gpg decrypts and verifies."""
    sig, micalg = hub_gpg.sign_detached(DATA, hub_fpr)
    assert micalg in ("pgp-sha256", "pgp-sha512")
    assert hub_gpg.verify_detached(DATA, sig).primary_fingerprint == hub_fpr
    ciphertext = hub_gpg.encrypt(DATA, [alice.fingerprint], sign_with=hub_fpr)
    assert ciphertext.startswith(b"-----BEGIN PGP MESSAGE-----")
    keys.gpg(alice.home, "--import", data=hub_gpg.export_public(hub_fpr))
    assert keys.gpg(alice.home, "--decrypt", data=ciphertext) == DATA


def test_decrypt_combined_reports_signature(hub_gpg, hub_fpr, alice):
    """Decrypting a signed+encrypted message returns the plaintext and the signature check."""
    pub = hub_gpg.export_public(hub_fpr)
    keys.gpg(alice.home, "--import", data=pub)
    ciphertext = keys.gpg(alice.home, "--armor", "--encrypt", "--sign", "--local-user", alice.fingerprint,
                          "--recipient", hub_fpr, data=DATA)
    out = hub_gpg.decrypt(ciphertext)
    assert out.plaintext == DATA
    assert out.signature.valid and out.signature.primary_fingerprint == alice.fingerprint
    plain = hub_gpg.encrypt(DATA, [hub_fpr])
    assert hub_gpg.decrypt(plain).signature is None
    assert hub_gpg.has_secret(hub_fpr) and not hub_gpg.has_secret(alice.fingerprint)


def test_decrypt_failures_name_their_reason(hub_gpg, alice, stranger):
    """No secret key, corrupt data: DecryptionFailed with a reason."""
    pub_file = alice.home / "stranger.asc"
    pub_file.write_bytes(stranger.public)
    ciphertext = keys.gpg(alice.home, "--armor", "--encrypt", "--recipient-file", str(pub_file), data=DATA)
    with pytest.raises(DecryptionFailed) as exc:
        hub_gpg.decrypt(ciphertext)
    assert exc.value.reason == "no_secret_key"
    with pytest.raises(DecryptionFailed):
        hub_gpg.decrypt(b"-----BEGIN PGP MESSAGE-----\n\nhQEMA5cz\n-----END PGP MESSAGE-----\n")


def test_encrypt_to_unknown_or_expired_key_is_refused(gpg_dir, session_dir):
    """Encrypting to an expired key raises KeyUnusable (delivery must hold, never send cleartext)."""
    old = keys.expired_key(session_dir, "old2@police.test")
    gpg = Gpg(gpg_dir / "h")
    gpg.import_keys(old.public)
    with pytest.raises(KeyUnusable):
        gpg.encrypt(DATA, [old.fingerprint])
    with pytest.raises(KeyUnusable):
        gpg.encrypt(DATA, ["F" * 40])


def test_engine_timeout_is_unavailable(gpg_dir):
    """A gpg that hangs is killed after timeout_seconds: GpgUnavailable (the caller answers 4xx)."""
    fake = gpg_dir / "slowgpg"
    fake.write_text('#!/bin/sh\ncase "$*" in *--list-config*|*--check-trustdb*) exec gpg "$@";; esac\nexec sleep 30\n')
    fake.chmod(0o755)
    gpg = Gpg(gpg_dir / "h", binary=str(fake), timeout_seconds=0.5)
    with pytest.raises(GpgUnavailable):
        gpg.verify_detached(DATA, b"sig")


def test_missing_binary_is_unavailable(gpg_dir):
    """No gpg binary at all: GpgUnavailable."""
    with pytest.raises(GpgUnavailable):
        Gpg(gpg_dir / "h", binary=str(gpg_dir / "nope"))


def test_concurrent_calls_from_a_thread_pool(hub_gpg, hub_fpr, alice):
    """Verify and sign from 4 threads at once on one home: every result is right."""
    from concurrent.futures import ThreadPoolExecutor
    sig = keys.sign_detached(alice, DATA)

    def work(i: int) -> bool:
        if i % 2:
            return hub_gpg.verify_detached(DATA, sig).valid
        signature, _ = hub_gpg.sign_detached(DATA + bytes([i]), hub_fpr)
        return hub_gpg.verify_detached(DATA + bytes([i]), signature).primary_fingerprint == hub_fpr

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(24)))


@pytest.mark.parametrize("memfd", [True, False], ids=["memfd", "pipes"])
def test_both_ways_of_running_gpg_give_the_same_verdicts(monkeypatch, gpg_dir, hub_gpg, hub_fpr, alice, memfd):
    """gpg run on memory files (Linux) or on pipes: good, bad, signed output and the time limit alike."""
    import crypto.openpgp.gpg_process as adapter
    monkeypatch.setattr(adapter, "_MEMFD", memfd)
    sig = keys.sign_detached(alice, DATA)
    open_fds = len(os.listdir("/proc/self/fd"))
    assert hub_gpg.verify_detached(DATA, sig).valid
    assert hub_gpg.verify_detached(DATA + b"x", sig).status == "bad"
    assert len(os.listdir("/proc/self/fd")) == open_fds  # nothing left open
    big = b"Content-Type: text/plain\r\n\r\n" + b"0123456789abcdef\r\n" * 200_000  # 3.6 MB, beyond any pipe buffer
    signature, micalg = hub_gpg.sign_detached(big, hub_fpr)
    assert micalg.startswith("pgp-") and hub_gpg.verify_detached(big, signature).valid
    fake = gpg_dir / "slowgpg2"
    fake.write_text('#!/bin/sh\ncase "$*" in *--list-config*|*--check-trustdb*) exec gpg "$@";; esac\nexec sleep 30\n')
    fake.chmod(0o755)
    slow = Gpg(gpg_dir / "slow", binary=str(fake), timeout_seconds=0.5, in_process=False)
    with pytest.raises(GpgUnavailable, match="verify timed out"):
        slow.verify_detached(DATA, sig)
