"""`export verify`: an oversight export checked without any hub home — against the hub's public key given
(HUB.asc), or, without it, against the key the export embeds (self-consistency only: its fingerprint is shown
for the reader to compare with the hub's)."""

from __future__ import annotations

import json
from datetime import datetime

from crypto.errors import NoteError
from crypto.tlog import Checkpoint, Note, verify_consistency, verify_inclusion
from crypto.tlog.notes import unb64

from hub.audit.checklist import Checklist
from hub.audit.checkpoints import ORIGIN_PATH
from hub.audit.entries import Entry
from hub.audit.keyring import Keyring
from hub.errors import LogError

from .oversight import FORMAT


class ExportCheck(Checklist):
    """What `export verify` checked of an oversight export."""


def hub_key_of(ring: Keyring, data: bytes, given: str | None, result: ExportCheck) -> str | None:
    """The hub's fingerprint: the given key's (*given*, in *ring* already; the export must embed that same key),
    or, none given, the embedded one's."""
    try:
        embedded = json.loads(data)["hub_key"].encode("ascii")
    except (ValueError, KeyError, AttributeError) as exc:
        result.fail(f"not an oversight export ({exc})")
        return None
    if given is None:
        try:
            fingerprint = ring.add(embedded)
        except LogError as exc:
            result.fail(f"the hub key it embeds: {exc}")
            return None
        result.lines.append(f"NOTE the export embeds the hub key {fingerprint}: compare it with the hub's "
                            "fingerprint you obtained from OCAM; without --hub-key this proves only that the "
                            "export is consistent with itself")
        return fingerprint
    embedded_fpr = [k.fingerprint for k in ring.gpg.inspect(embedded)]
    if embedded_fpr != [given]:
        result.fail(f"the export embeds the key {embedded_fpr}, not the hub key given ({given})")
        return None
    result.good(f"the export embeds the hub key given, {given}")
    return given


def check_export(data: bytes, signature: bytes | None, ring: Keyring, hub: str, result: ExportCheck) -> None:
    """Everything in the JSON export, against the hub key *hub* held in *ring*."""
    why = ring.verify(data, signature, hub) if signature is not None else "no .asc file beside it"
    if why:
        result.fail(f"the file's signature: {why}")
    else:
        result.good("the file is signed by the hub's key")
    report = json.loads(data)
    if report.get("format") != FORMAT:
        result.fail(f"format {report.get('format')!r}, not {FORMAT!r}")
        return
    try:
        checkpoint = _log(report, ring, hub, result)
    except (LogError, NoteError, ValueError, KeyError, TypeError) as exc:
        result.fail(f"the log cannot be read: {exc}")
        return
    if checkpoint is not None:
        _cosigned(report["log"], checkpoint, ring, result)
    _holders(report, ring, result)


def _entry(item: dict, checkpoint: Checkpoint) -> Entry | None:
    entry = Entry.parse(item["entry"].encode("utf-8"))
    path = [unb64(p) for p in item["proof"]]
    ok = entry.index == item["index"] and verify_inclusion(entry.index, checkpoint.size, entry.leaf, path,
                                                           checkpoint.root)
    return entry if ok else None


def _log(report: dict, ring: Keyring, hub: str, result: ExportCheck) -> Checkpoint | None:
    log = report["log"]
    note = Note.parse(log["checkpoint"])
    checkpoint = Checkpoint.of(note)
    if not checkpoint.origin.endswith("/" + ORIGIN_PATH) or not any(
            v.verifies(note) for v in ring.note_verifiers(hub, checkpoint.origin)):
        result.fail("the export's checkpoint is not signed by the hub's key")
        return None
    result.good(f"checkpoint {checkpoint.origin} of {checkpoint.size} events signed by the hub's key")
    first, since = log["first"], report["since"]
    entries: dict[int, Entry] = {}
    expected = first
    for item in log["events"]:
        if item["index"] != expected:
            result.fail(f"event {expected} is missing from the export (the period runs from {first} to "
                        f"{checkpoint.size - 1})")
            return checkpoint
        entry = _entry(item, checkpoint)
        if entry is None:
            result.fail(f"event {expected}: its inclusion proof does not lead to the checkpoint's root")
            return checkpoint
        entries[expected] = entry
        expected += 1
    if expected != checkpoint.size:
        result.fail(f"events {expected} to {checkpoint.size - 1} are missing from the export")
        return checkpoint
    result.good(f"events {first} to {checkpoint.size - 1}: each proven in the checkpoint")
    if since is not None and first > 0:
        before = _entry(log["before"], checkpoint) if log.get("before") else None
        start = datetime.fromisoformat(since)
        if before is None or before.index != first - 1 or before.at >= start:
            result.fail(f"the export does not prove that event {first} is the first of the period from {since}")
        elif first in entries and entries[first].at < start:
            result.fail(f"event {first} is before the period's start {since}")
        else:
            result.good(f"the period starts at event {first} (event {first - 1}, proven too, is before {since})")
    elif first != 0:
        result.fail(f"the export covers all events, yet starts at event {first}")
    unproven = [i for i in report["accesses"] if i not in entries]
    if unproven:
        result.fail(f"accesses listed without their proven event: {unproven[:5]}")
    else:
        result.good(f"{len(report['accesses'])} accesses to embargoed items, each a proven event")
    return checkpoint


def _cosigned(log: dict, checkpoint: Checkpoint, ring: Keyring, result: ExportCheck) -> None:
    verifiers = []
    for w in log["witnesses"]:
        fingerprint = ring.add(w["key"].encode("ascii"))
        if fingerprint != w["fingerprint"]:
            result.fail(f"witness {w['name']}: its key is {fingerprint}, not {w['fingerprint']}")
            continue
        verifiers += [(w["name"], v) for v in ring.cosignature_verifiers(fingerprint, w["key_name"])]
        result.lines.append(f"NOTE witness {w['name']} ({w['key_name']}) is key {fingerprint}: compare it with the "
                            "witness's own")
    for item in log["cosigned"]:
        note = Note.parse(item["note"])
        old = Checkpoint.of(note)
        names = sorted({name for name, v in verifiers if v.timestamp(note) is not None})
        proof = [unb64(p) for p in item["consistency"]]
        if not names:
            result.fail(f"checkpoint {old.size}: no good cosignature by a witness the export names")
        elif not verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, proof):
            result.fail(f"checkpoint {old.size}, cosigned by {', '.join(names)}: the export's checkpoint does not "
                        "extend it (a rewritten log)")
        else:
            result.good(f"checkpoint {old.size} cosigned by {', '.join(names)}, and the export's extends it")


def _holders(report: dict, ring: Keyring, result: ExportCheck) -> None:
    members = {}
    for m in report["members"]:
        try:
            fingerprint = ring.add(m["key"].encode("ascii"))
        except LogError as exc:
            result.fail(f"member {m['name']}: {exc}")
            continue
        if fingerprint != m["fingerprint"]:
            result.fail(f"member {m['name']}: the key given is {fingerprint}, not {m['fingerprint']}")
            continue
        members[fingerprint] = m
    for v in report["holder_lists"]:
        label = f"holder list {v['kind']} v{v['version']}"
        signer = members.get(v["signer_fingerprint"])
        why = ring.verify(v["statement"].encode("utf-8"), v["signature"].encode("ascii"), v["signer_fingerprint"])
        if why:
            result.fail(f"{label}: the statement's signature: {why}")
        elif signer is None or signer["role"] != "director":
            result.fail(f"{label}: signed by {v['signer_fingerprint']}, who is not the director the export lists")
        else:
            result.good(f"{label}: signed by the director {signer['name']} ({v['signer_fingerprint']})")
