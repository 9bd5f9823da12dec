"""Sealing at rest: round trip, tamper, wrong key, key file handling."""

from __future__ import annotations

import dataclasses
import stat

import pytest

from crypto.errors import SealError
from crypto.seal import StorageKey


def test_seal_round_trip_with_aad():
    key = StorageKey.generate()
    sealed = key.seal(b"embargo: judicial", aad=b"ref-1")
    assert sealed.key_id == key.key_id and b"embargo" not in sealed.ciphertext
    assert key.unseal(sealed, aad=b"ref-1") == b"embargo: judicial"


@pytest.mark.parametrize("field", ["wrapped_key", "nonce", "ciphertext"])
def test_tampered_item_is_refused(field):
    key = StorageKey.generate()
    sealed = key.seal(b"secret")
    value = bytearray(getattr(sealed, field))
    value[0] ^= 1
    with pytest.raises(SealError):
        key.unseal(dataclasses.replace(sealed, **{field: bytes(value)}))


def test_wrong_key_or_wrong_aad_is_refused():
    key, other = StorageKey.generate(), StorageKey.generate()
    sealed = key.seal(b"secret", aad=b"a")
    with pytest.raises(SealError):
        other.unseal(sealed, aad=b"a")
    with pytest.raises(SealError):
        other.unseal(dataclasses.replace(sealed, key_id=other.key_id), aad=b"a")
    with pytest.raises(SealError):
        key.unseal(sealed, aad=b"b")


def test_each_item_has_its_own_data_key():
    key = StorageKey.generate()
    a, b = key.seal(b"x"), key.seal(b"x")
    assert a.wrapped_key != b.wrapped_key and a.ciphertext != b.ciphertext


def test_key_file_is_0600_and_never_overwritten(tmp_path):
    key = StorageKey.generate()
    path = tmp_path / "storage.key"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert StorageKey.load(path).key_id == key.key_id
    with pytest.raises(SealError):
        StorageKey.generate().save(path)
    assert StorageKey.load(path).key_id == key.key_id
    assert [p.name for p in tmp_path.iterdir()] == ["storage.key"]
    assert repr(key) == f"StorageKey(key_id={key.key_id!r})"


def test_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "storage.key"
    StorageKey.generate().save(path)
    path.chmod(0o640)
    with pytest.raises(SealError) as exc:
        StorageKey.load(path)
    assert "0600" in str(exc.value)


def test_an_item_under_a_wrapping_key_opens_only_through_the_storage_key_that_wraps_it():
    """Storage key -> wrapping key -> data key: the wrapped wrapping key alone opens nothing, another storage
    key cannot unwrap it, and a tampered wrapped form is refused."""
    key, other = StorageKey.generate(), StorageKey.generate()
    period, wrapped = key.new_wrapping_key()
    sealed = period.seal(b"renseignement", aad=b"message:PSR-2026-000001")
    assert sealed.key_id == key.key_id and b"renseignement" not in sealed.ciphertext
    assert key.wrapping_key(wrapped).unseal(sealed, aad=b"message:PSR-2026-000001") == b"renseignement"
    with pytest.raises(SealError):
        key.unseal(sealed, aad=b"message:PSR-2026-000001")  # the data key is not wrapped by the storage key
    with pytest.raises(SealError):
        other.wrapping_key(wrapped)
    tampered = bytearray(wrapped)
    tampered[3] ^= 1
    with pytest.raises(SealError):
        key.wrapping_key(bytes(tampered))
    assert "secret" not in repr(period) and repr(period) == f"WrappingKey(under={key.key_id!r})"
