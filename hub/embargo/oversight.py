"""The oversight export (law Art. 11-12 al. 2: the holder lists are kept at the disposal of Comité P and
Comité R; law Art. 9 §3 7° and AR Art. 6 §4: who did and accessed what). JSON and CSV, each signed by the hub.

The JSON carries what a committee needs to check it alone (hub/embargo/oversight_check.py): the hub's public
key, every event of the period with its inclusion proof in a checkpoint signed at export time, the event just
before the period (it shows where the period starts), the cosigned checkpoints with their consistency proofs,
the witnesses' and the members' public keys, and the holder statements with the director's signatures.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from crypto import Gpg
from crypto.tlog import Checkpoint, Note
from crypto.tlog.notes import b64
from store import UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.audit.checkpoints import Issued
from hub.audit.proofs import Prover
from hub.audit.witnesses import configured
from hub.clock import Clock
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.acts.signed import MemberHome

COMMITTEES = {"P": "Comité permanent de contrôle des services de police",
              "R": "Comité permanent de contrôle des services de renseignement et de sécurité"}
FORMAT = "passerelle-oversight v2"
ACCESS_PREFIXES = ("embargo.", "holders.", "member.", "alert.embargo", Action.EVALUATION_INTEGRATES_EMBARGO)


def _log(uow: UnitOfWork, gpg: Gpg, settings: Settings, issued: Issued, since: datetime | None) -> dict:
    prover = Prover(uow.log, issued)
    first = 0 if since is None else uow.log.entries_since(since)
    first = issued.size if first is None or first > issued.size else first
    events = [{"index": first + n, "entry": entry.decode("utf-8"), "proof": [b64(p) for p in path]}
              for n, (entry, path) in enumerate(prover.entries(first, issued.size))]
    before = None
    if first > 0:
        entry, path = next(prover.entries(first - 1, first))
        before = {"index": first - 1, "entry": entry.decode("utf-8"), "proof": [b64(p) for p in path]}
    cosigned = []
    for size in sorted({c.size for c in uow.log.cosignatures() if c.size <= issued.size}):
        notes = [Note.parse(c.note) for c in uow.log.cosignatures(size)]
        note = notes[0].adding(*[s for n in notes[1:] for s in n.signatures])
        old = Issued(size, Checkpoint.of(note).root, note)
        cosigned.append({"note": note.render(), "consistency": [b64(p) for p in prover.consistency(old)]})
    witnesses = [{"name": w.name, "key_name": w.email, "fingerprint": w.fingerprint,
                  "key": gpg.export_public(w.fingerprint).decode("ascii")}
                 for w in configured(uow, settings.audit.witnesses)]
    return {"checkpoint": issued.note.render(), "first": first, "before": before, "events": events,
            "cosigned": cosigned, "witnesses": witnesses}


def build(uow: UnitOfWork, gpg: Gpg, clock: Clock, settings: Settings, issued: Issued, *, committee: str,
          since: datetime | None) -> dict:
    hub = settings.hub
    lists = [{"kind": r.kind, "version": r.version, "holders": r.holders, "change": r.change, "member": r.subject,
              "signed_by": r.signed_by, "signer_fingerprint": r.signer_fingerprint,
              "changed_at": r.changed_at.isoformat(), "statement": r.statement, "signature": r.signature}
             for r in uow.holders.history()]
    members = [{"name": m.name, "role": m.role, "fingerprint": m.fingerprint, "clearance": m.clearance,
                "key": gpg.export_public(m.fingerprint).decode("ascii")} for m in uow.members.all()]
    log = _log(uow, gpg, settings, issued, since)
    accesses = [e["index"] for e in log["events"] if json.loads(e["entry"])["action"].startswith(ACCESS_PREFIXES)]
    return {"format": FORMAT, "committee": committee, "committee_name": COMMITTEES[committee], "hub": hub.address,
            "hub_fingerprint": hub.key_fingerprint, "hub_key": gpg.export_public(hub.key_fingerprint).decode("ascii"),
            "generated_at": clock.now().isoformat(), "since": since.isoformat() if since else None,
            "members": members, "holder_lists": lists, "log": log, "accesses": accesses}


def as_csv(report: dict) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["record", "at", "kind", "version", "actor", "action", "reference", "holders", "detail"])
    for r in report["holder_lists"]:
        w.writerow(["holder_list", r["changed_at"], r["kind"], r["version"], r["signed_by"], r["change"], "",
                    " ".join(h["name"] for h in r["holders"]), f"member={r['member']} signer={r['signer_fingerprint']}"])
    events = {e["index"]: json.loads(e["entry"]) for e in report["log"]["events"]}
    for index in report["accesses"]:
        e = events[index]
        d = e["detail"]
        w.writerow(["access", e["at"], d.get("kind", ""), d.get("holder_version", d.get("version", "")), e["actor"],
                    e["action"], e["reference"] or "", " ".join(d.get("holders", []) if isinstance(d.get("holders"), list)
                                                             else []), json.dumps(d, sort_keys=True)])
    return out.getvalue()


def write(uow: UnitOfWork, gpg: Gpg, clock: Clock, settings: Settings, issued: Issued, by: MemberHome, *,
          committee: str, since: datetime | None, out: Path) -> list[Path]:
    """Write OUT (JSON) and OUT's .csv sibling, each with a detached hub signature (.asc), as the signed act of the
    member whose home *by* is; audited."""
    act = by.sign(uow, clock, "export.oversight", committee=committee, since=since.isoformat() if since else None)
    report = build(uow, gpg, clock, settings, issued, committee=committee, since=since)
    json_path = out
    csv_path = out.with_suffix(".csv") if out.suffix == ".json" else out.with_name(out.name + ".csv")
    written = []
    for path, data in ((json_path, json.dumps(report, indent=1, ensure_ascii=False).encode("utf-8")),
                       (csv_path, as_csv(report).encode("utf-8"))):
        signature, _ = gpg.sign_detached(data, settings.hub.key_fingerprint)
        path.write_bytes(data)
        path.with_name(path.name + ".asc").write_bytes(signature)
        written += [path, path.with_name(path.name + ".asc")]
    audit.record(uow, clock, Action.OVERSIGHT_EXPORTED, actor=act.member.name, committee=committee, **act.evidence(),
                 since=since.isoformat() if since else None, events=len(report["log"]["events"]),
                 checkpoint=issued.size, versions=len(report["holder_lists"]),
                 sha256={p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (json_path, csv_path)})
    return written
