"""Which primary a signing subkey verifiably belongs to: its subkey binding signatures (0x18) by the primary,
each carrying the subkey's own primary key binding signature (0x19) as an Embedded Signature (RFC 9580 §5.2.1,
§5.2.3.26). Whatever is not plainly so is left out of the keys verified in process: gpg decides for it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Sequence

from crypto.errors import PacketError
from crypto.openpgp.packets import (
    SUB_CREATED, SUB_EMBEDDED, SUB_ISSUER_FPR, SUB_ISSUER_KEY_ID, SUB_KEY_EXPIRES, SUB_KEY_FLAGS, SUB_SIG_EXPIRES,
    TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY, TAG_SIGNATURE, KeyPacket, Packet, SignaturePacket, signature_packet,
)
from crypto.openpgp.pubkeys import key_hash_input, public_key, signature_holds

SUBKEY_BINDING, PRIMARY_BINDING, SUBKEY_REVOCATION = 0x18, 0x19, 0x28
SIGN_FLAG = 0x02  # key flags (RFC 9580 §5.2.3.29): this key may sign data
# Critical hashed subpackets understood in a binding and in its back-signature; any other leaves the key to gpg.
BINDING_CRITICAL = frozenset({SUB_CREATED, SUB_ISSUER_KEY_ID, SUB_ISSUER_FPR, SUB_KEY_FLAGS, SUB_KEY_EXPIRES,
                              SUB_EMBEDDED})
BACK_CRITICAL = frozenset({SUB_CREATED, SUB_ISSUER_KEY_ID, SUB_ISSUER_FPR})


@dataclass
class Keyblock:
    """One transferable public key of an export: its primary key packet, and each subkey packet with the
    bodies of the signature packets that follow it."""

    primary: bytes
    subkeys: list[tuple[bytes, list[bytes]]] = field(default_factory=list)

    def bodies(self) -> list[bytes]:
        return [self.primary, *(sub for sub, _ in self.subkeys)]


def keyblocks(found: Sequence[Packet]) -> list[Keyblock]:
    """The keys of a `gpg --export`, in order; signatures count for a subkey only right after it."""
    blocks: list[Keyblock] = []
    after_subkey = False
    for pkt in found:
        if pkt.tag == TAG_PUBLIC_KEY:
            blocks.append(Keyblock(pkt.body))
            after_subkey = False
        elif not blocks:
            continue
        elif pkt.tag == TAG_PUBLIC_SUBKEY:
            blocks[-1].subkeys.append((pkt.body, []))
            after_subkey = True
        elif pkt.tag == TAG_SIGNATURE and after_subkey:
            blocks[-1].subkeys[-1][1].append(pkt.body)
        elif pkt.tag != TAG_SIGNATURE:
            after_subkey = False
    return blocks


def fingerprint(body: bytes) -> str | None:
    """The v4 fingerprint of a public (sub)key packet of any algorithm (its body is all public), else None."""
    if not body or body[0] != 4:
        return None
    return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()


def cross_certified(primary: KeyPacket, sub: KeyPacket, signatures: Sequence[bytes], now: int) -> bool:
    """Every binding of sub is a good one by primary, for signing, with a good back-signature by sub in it;
    and there is one. A revocation is left to gpg's listing (which the caller has read); any other signature
    after the subkey, or one not read here, and the answer is no."""
    primary_public, sub_public = public_key(primary), public_key(sub)
    if primary_public is None or sub_public is None:
        return False
    covered = key_hash_input(primary) + key_hash_input(sub)
    bindings = 0
    for body in signatures:
        try:
            sig = signature_packet(body)
        except PacketError:
            return False
        if sig.sig_type == SUBKEY_REVOCATION:
            continue
        flags = sig.first(SUB_KEY_FLAGS, hashed_only=True)
        if (sig.sig_type != SUBKEY_BINDING or not plain(sig, primary, BINDING_CRITICAL, now)
                or not flags or not flags[0] & SIGN_FLAG
                or not signature_holds(primary_public, primary, sig, covered)
                or not _back_signed(sig, sub, sub_public, covered, now)):
            return False
        bindings += 1
    return bindings > 0


def _back_signed(binding: SignaturePacket, sub: KeyPacket, sub_public, covered: bytes, now: int) -> bool:
    """The binding embeds exactly one signature (hashed or not, as gpg reads either): a good 0x19 by sub."""
    embedded = [s.data for s in (*binding.hashed, *binding.unhashed) if s.type == SUB_EMBEDDED]
    if len(embedded) != 1:
        return False
    try:
        back = signature_packet(embedded[0])
    except PacketError:
        return False
    return (back.sig_type == PRIMARY_BINDING and plain(back, sub, BACK_CRITICAL, now)
            and signature_holds(sub_public, sub, back, covered))


def plain(sig: SignaturePacket, signer: KeyPacket, understood: frozenset[int], now: int) -> bool:
    """Named as made by signer alone, made between signer's creation and now, without an expiry of its own,
    and no critical subpacket but the understood ones."""
    issuers = sig.issuers
    created = sig.created
    return (bool(issuers) and all(i in (signer.fingerprint, signer.key_id) for i in issuers)
            and created is not None and signer.created <= created <= now
            and sig.first(SUB_SIG_EXPIRES) is None
            and not any(s.critical and s.type not in understood for s in sig.hashed))
