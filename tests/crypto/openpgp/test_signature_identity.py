"""A signature's identity (the replay key): the same whichever path judged it and whatever bytes gpg accepts it
over; the text-mode reading of the bytes is gpg's own."""

from __future__ import annotations

import time

import pytest

from crypto.mime.crlf import text_signed
from crypto.openpgp.gpg import Gpg
from tests.support import keys
from tests.support import openpgp as o

BASE = b"line one\r\nline two\r\n"
# Bytes a text-mode signature over BASE is checked against, and whether gpg 2.2.40 calls it good (measured).
TEXT_VARIANTS = [
    (b"line one\r\nline two\r\n", True), (b"line one\nline two\n", True), (b"line one\r\r\nline two\r\n", True),
    (b"line one\r\r\r\r\nline two\r\n", True), (b"line one\r\nline two\r\n\r", True),
    (b"line one \r\nline two\r\n", False), (b"line one\t\r\nline two\r\n", False), (b"line one\r\nline two", False),
    (b"line one\rline two\r", False), (b"line\r one\r\nline two\r\n", False), (b"line one \r\r\nline two\r\n", False),
    (b"line one\r\nline two\r\n\r\n", False),
]


@pytest.fixture(scope="module")
def judge(session_dir, alice):
    gpg = Gpg(session_dir / "identity")
    gpg.import_keys(alice.public)
    return gpg


@pytest.mark.parametrize("variant, good", TEXT_VARIANTS)
def test_text_signed_reads_the_bytes_as_gpg_does(judge, alice, variant, good):
    """gpg calls a text-mode signature over BASE good over variant exactly when text_signed reads both alike;
    then the identity is the same, in process or not."""
    sig = keys.gpg(alice.home, "--armor", "--textmode", "--detach-sign", "--local-user", alice.fingerprint, data=BASE)
    check = Gpg(judge.home, in_process=False).verify_detached(variant, sig)
    assert check.valid == good == (text_signed(variant) == text_signed(BASE)), check.detail
    if good:
        first = judge.verify_detached(BASE, sig)
        assert first.detail.endswith("(in process)") and first.sig_class == 0x01
        assert check.identity(variant) == first.identity(BASE)


def test_identity_is_the_signed_statement(judge, alice, session_dir):
    """Two signatures at one second over the same data: the same identity in binary mode, another in text
    mode; another second, another identity. An ECDSA signature and its (r, n - s) twin: one identity."""
    soon = int(time.time()) + 3600  # after the key was made; gpg's clock frozen there ("!")

    def sign(*options: str, at: int = soon) -> bytes:
        return keys.gpg(alice.home, "--armor", "--detach-sign", *options, "--local-user", alice.fingerprint,
                        data=BASE, faked_time=f"{at}!")

    binary, text, later = sign(), sign("--textmode"), sign(at=soon + 1)
    ids = [judge.verify_detached(BASE, s).identity(BASE) for s in (binary, sign(), text, later)]
    assert ids[0] == ids[1] and len(set(ids)) == 3
    nist = keys.make_key(session_dir, "nist-identity@customs.test", algo="nistp256")
    judge.import_keys(nist.public)
    sig = keys.sign_detached(nist, BASE)
    twin = o.with_s_negated(sig)
    checks = [judge.verify_detached(BASE, s) for s in (sig, twin)]
    assert all(c.valid for c in checks) and o.dearmor(twin) != o.dearmor(sig)
    assert checks[0].identity(BASE) == checks[1].identity(BASE)
