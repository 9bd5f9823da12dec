"""Real messages from other clients (Schleuder's fixtures): classification, decryption, verification."""

from __future__ import annotations

import pytest

from crypto.errors import DecryptionFailed, InlinePgp, MalformedMime, Unsigned
from crypto.openpgp.gpg import Gpg
from crypto.mime.pgpmime import analyse, analyse_inner, first_text, payload_headers
from tests.crypto.conftest import INTEROP

MAILS = INTEROP / "mails"
SCHLEUDER_FPR = "59C71FB38AEE22E091C78259D06350440F759BD3"

SIGNED = ["signed-mime/thunderbird.eml", "multipart-alternative/thunderbird-multi-alt-signed.eml"]
ENCRYPTED = ["encrypted-mime/thunderbird.eml", "encrypted+signed-mime/thunderbird.eml", "protected-headers.eml",
             "protected-headers-request.eml", "mutt_protected_headers.txt", "qp-encoding-encrypted.eml",
             "qp-encoding-encrypted+signed.eml", "mutt-2.0.5-linux-xaddkey-attachment-binary.eml",
             "thunderbird-115.2.3-macos-xaddkey-attachment.eml", "encapsulated.eml", "exchange.eml",
             "attach-list-key-thunderbird.eml", "encrypted-to-absent-key.txt", "encrypted-to-passphrase.txt"]
INLINE = ["signed-inline/thunderbird.eml", "encrypted-inline/thunderbird.eml",
          "encrypted+signed-inline/thunderbird.eml", "mail_with_pgp_boundaries_in_body.txt"]
PLAIN = ["plain/thunderbird.eml", "qp-encoding-clear.eml", "exchange_no_parts.eml", "big_first_mime_part.txt",
         "multipart-alternative/thunderbird-multi-alt-unsigned.eml", "charset_mails/japanese.eml",
         "charset_mails/simple_latin1.eml", "broken_utf8_charset.eml"]


@pytest.mark.parametrize("name", SIGNED)
def test_signed_samples_are_signed(name):
    env = analyse(sample(name))
    assert env.kind == "signed" and env.signed.signature.startswith(b"-----BEGIN PGP SIGNATURE-----")
    assert b"\r\n" in env.signed.signed_bytes and b"\n" not in env.signed.signed_bytes.replace(b"\r\n", b"")


def sample(name: str) -> bytes:
    """A sample's bytes. exchange.eml ends with a delimiter where its close delimiter belongs: so it is refused
    (readers disagree on whether an empty part follows); Exchange's own copy ends with the close."""
    raw = (MAILS / name).read_bytes()
    if name == "exchange.eml":
        assert raw.endswith(b"\n--_003_MIME_\n")
        return raw[:-1] + b"--\n"
    return raw


def test_a_multipart_without_its_close_delimiter_is_refused():
    with pytest.raises(MalformedMime) as exc:
        analyse((MAILS / "exchange.eml").read_bytes())
    assert "no closing boundary" in exc.value.reason


def test_a_sample_whose_micalg_names_another_hash_is_refused():
    """signed_utf8.eml says micalg=pgp-sha256 over a SHA-512 signature: two readings of one message, refused
    (its inner multipart/mixed also lacks its close delimiter; closed here, the micalg is what remains)."""
    raw = (MAILS / "charset_mails/signed_utf8.eml").read_bytes()
    with pytest.raises(MalformedMime) as exc:
        analyse(raw)
    assert "no closing boundary" in exc.value.reason
    inner = b"--=_7A9795606B8711EAA9CA74E5F9E4031\n\n--=_3af29082653c11eaa9c874e5f9e4031\n"
    assert inner in raw
    with pytest.raises(MalformedMime) as exc:
        analyse(raw.replace(inner, inner.replace(b"E4031\n\n", b"E4031--\n\n", 1)))
    assert "micalg=pgp-sha256" in exc.value.reason and "pgp-sha512" in exc.value.reason


@pytest.mark.parametrize("name", ENCRYPTED)
def test_encrypted_samples_are_encrypted(name):
    env = analyse(sample(name))
    assert env.kind == "encrypted" and env.ciphertext.startswith(b"-----BEGIN PGP MESSAGE-----")


@pytest.mark.parametrize("name", INLINE)
def test_inline_samples_are_refused_as_inline(name):
    with pytest.raises(InlinePgp):
        analyse(sample(name))


@pytest.mark.parametrize("name", PLAIN)
def test_plain_samples_are_refused_as_unsigned(name):
    with pytest.raises(Unsigned):
        analyse(sample(name))


def test_thunderbird_signed_sample_has_unknown_signer(hub_gpg):
    """The signer of the Thunderbird signed sample is not among the keys: no_public_key."""
    env = analyse((MAILS / "signed-mime/thunderbird.eml").read_bytes())
    assert env.signed.micalg == "pgp-sha512"
    assert hub_gpg.verify_detached(env.signed.signed_bytes, env.signed.signature).status == "no_public_key"


def test_thunderbird_encrypted_signed_decrypts_with_schleuder_home(schleuder_gpg):
    """encrypted+signed-mime decrypts; its signer's key is absent so the inner signature is no_public_key."""
    env = analyse((MAILS / "encrypted+signed-mime/thunderbird.eml").read_bytes())
    out = schleuder_gpg.decrypt(env.ciphertext)
    assert analyse_inner(out.plaintext) is None
    assert out.signature.status == "no_public_key"
    assert "Umlauts: öäß" in first_text(out.plaintext)
    assert ("From", "paz <paz@nadir.org>") in payload_headers(out.plaintext)


@pytest.mark.parametrize("name", ["protected-headers-request.eml", "qp-encoding-encrypted+signed.eml",
                                  "attach-list-key-thunderbird.eml"])
def test_combined_samples_signed_by_schleuder_key_verify(schleuder_gpg, name):
    """Combined sign+encrypt samples whose signer is the schleuder key verify good."""
    out = schleuder_gpg.decrypt(analyse(sample(name)).ciphertext)
    assert out.signature.valid and out.signature.primary_fingerprint == SCHLEUDER_FPR


@pytest.mark.parametrize("name", ["encrypted-mime/thunderbird.eml", "protected-headers.eml", "exchange.eml",
                                  "mutt_protected_headers.txt", "qp-encoding-encrypted.eml"])
def test_encrypted_only_samples_decrypt_unsigned(schleuder_gpg, name):
    out = schleuder_gpg.decrypt(analyse(sample(name)).ciphertext)
    assert out.signature is None and out.plaintext


@pytest.mark.parametrize("name, reason", [
    ("encrypted-to-absent-key.txt", "no_secret_key"),
    ("mutt-2.0.5-linux-xaddkey-attachment-binary.eml", "no_secret_key"),
    ("thunderbird-115.2.3-macos-xaddkey-attachment.eml", "no_secret_key"),
    ("encrypted-to-passphrase.txt", "passphrase_only"),
    ("containing-pgp-garbage.txt", "no_data"),
])
def test_undecryptable_samples_say_why(schleuder_gpg, name, reason):
    with pytest.raises(DecryptionFailed) as exc:
        schleuder_gpg.decrypt(analyse(sample(name)).ciphertext)
    assert exc.value.reason == reason


def test_encapsulated_kmail_sample_decrypts_and_inner_signature_verifies(gpg_dir):
    """KMail sign-then-encrypt: decrypt with the list key, the inner multipart/signed verifies."""
    gpg = Gpg(gpg_dir / "h")
    gpg.import_secret_key((INTEROP / "openpgp-keys" / "encapsulated-list.sec").read_bytes())
    [sender] = gpg.import_keys((INTEROP / "openpgp-keys" / "encapsulated-sender.pub").read_bytes())
    out = gpg.decrypt(analyse((MAILS / "encapsulated.eml").read_bytes()).ciphertext)
    assert out.signature is None
    inner = analyse_inner(out.plaintext)
    assert inner.kind == "signed" and inner.signed.micalg == "pgp-sha256"
    check = gpg.verify_detached(inner.signed.signed_bytes, inner.signed.signature)
    assert check.valid and check.primary_fingerprint == sender
    assert dict(payload_headers(inner.signed.signed_bytes))["Subject"] == "test"
