"""The fuzz harness's oracle (hub/tools/fuzz/check.py) says no where it must: a 250 the harness calls good is one
good signature, exit code 0, by the key of the partner its From names — else the fuzz test could not fail."""

from __future__ import annotations

import pytest

from hub.tools.fuzz.check import Checker
from tests.support import keys, mail


@pytest.fixture(scope="module")
def world(module_tmp):
    police = keys.make_key(module_tmp, "spoc@police.test")
    customs = keys.make_key(module_tmp, "desk@customs.test")
    hub = keys.make_key(module_tmp, "hub@ocam.test")
    root = keys.short_home(module_tmp, "ck")
    checker = Checker(root, {k.email: (k.fingerprint, k.public) for k in (police, customs)}, (hub.fingerprint, hub.public),
                      keys.gpg(hub.home, "--armor", "--export-secret-keys", hub.fingerprint), {police.email: police.home})
    yield checker, police, customs, hub
    checker.close()


def test_a_good_message_of_each_shape_passes(world):
    checker, police, customs, hub = world
    for raw in (mail.signed_mail(police, body="one"), mail.signed_mail(police, protected={"From": police.email}),
                mail.signed_mail(police, sign_options=("--textmode",)), mail.encrypted_mail(police, hub.public),
                mail.encrypted_mail(police, hub.public, mode="encapsulated")):
        verdict = checker.accepted(raw)
        assert verdict.problem is None and verdict.signer == police.fingerprint, verdict


def test_what_the_hub_must_not_accept_is_a_problem(world):
    checker, police, customs, hub = world
    raw = mail.signed_mail(police, body="two")
    cases = {
        "signed by police, From customs": mail.signed_mail(police, sender=customs.email),
        "protected From customs": mail.signed_mail(police, protected={"From": customs.email}),
        "From nobody registered": mail.signed_mail(police, sender="someone@elsewhere.test"),
        "altered": raw.replace(b"two", b"tw0"),
        "armor without its blank line": raw.replace(b"-----BEGIN PGP SIGNATURE-----\r\n\r\n",
                                                    b"-----BEGIN PGP SIGNATURE-----\r\n"),
        "two signatures": raw.replace(b"-----END PGP SIGNATURE-----\r\n", b"-----END PGP SIGNATURE-----\r\n" + raw[
            raw.index(b"-----BEGIN PGP SIGNATURE"):raw.index(b"-----END PGP SIGNATURE-----") + 29], 1),
        "no closing delimiter": raw[:raw.rindex(b"--\r\n")],
        "encrypted by customs, From police": mail.encrypted_mail(customs, hub.public, sender=police.email),
    }
    for name, message in cases.items():
        assert checker.accepted(message).problem is not None, name


def _encrypted_to(key, entity: bytes, hub) -> bytes:
    """*entity* encrypted to *key* by the hub, as the hub sends a receipt (sign, then encrypt: RFC 3156 §6.1)."""
    keys.gpg(hub.home, "--import", data=key.public)
    ciphertext = keys.gpg(hub.home, "--armor", "--encrypt", "--recipient", key.fingerprint, data=entity)
    return mail.ciphertext_mail(ciphertext, sender=hub.email, to=key.email)


def test_a_receipt_must_be_signed_by_the_hub_and_name_its_reference(world):
    checker, police, customs, hub = world
    report = b"Content-Type: text/plain\r\n\r\nX-Passerelle-Reference: PSR-2026-000042\r\n"
    assert checker.receipt(mail.signed_entity_mail(hub, report), [customs.email]) == ("PSR-2026-000042", None)
    reference, problem = checker.receipt(mail.signed_entity_mail(police, report), [customs.email])
    assert problem is not None and "receipt signature" in problem


def test_a_receipt_to_a_partner_whose_receipts_travel_encrypted_must_be_encrypted_to_it(world):
    checker, police, customs, hub = world
    report = b"Content-Type: text/plain\r\n\r\nX-Passerelle-Reference: PSR-2026-000043\r\n"
    signed = mail.signed_entity_mail(hub, report, to=police.email)
    assert checker.receipt(_encrypted_to(police, signed, hub), [police.email]) == ("PSR-2026-000043", None)
    assert checker.receipt(signed, [police.email])[1] == "a receipt in clear to a partner whose receipts travel encrypted"
    _reference, problem = checker.receipt(_encrypted_to(customs, signed, hub), [police.email])
    assert problem is not None and "not decrypted by its partner" in problem
    _reference, problem = checker.receipt(_encrypted_to(police, mail.signed_entity_mail(customs, report), hub),
                                          [police.email])
    assert problem is not None and "receipt signature" in problem
