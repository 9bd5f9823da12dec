"""The oversight export (law Art. 11-12 al. 2: the holder lists are kept at the disposal of Comité P and
Comité R; law Art. 9 §3 7° and AR Art. 6 §4: who accessed what). JSON and CSV, each signed by the hub."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from pathlib import Path

from crypto import Gpg
from store import UnitOfWork

from hub import audit
from hub.clock import Clock

COMMITTEES = {"P": "Comité permanent de contrôle des services de police",
              "R": "Comité permanent de contrôle des services de renseignement et de sécurité"}
FORMAT = "passerelle-oversight v1"


def build(uow: UnitOfWork, clock: Clock, *, committee: str, since: datetime | None, hub: str) -> dict:
    lists = [{"kind": r.kind, "version": r.version, "holders": r.holders, "change": r.change, "member": r.subject,
              "signed_by": r.signed_by, "signer_fingerprint": r.signer_fingerprint,
              "changed_at": r.changed_at.isoformat(), "statement": r.statement, "signature": r.signature}
             for r in uow.holders.history()]
    members = [{"name": m.name, "role": m.role, "fingerprint": m.fingerprint, "clearance": m.clearance}
               for m in uow.members.all()]
    events = [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "reference": e.message_ref,
               "detail": e.detail, "digest": e.digest} for e in uow.embargo.events(since)]
    broken = uow.audit.verify_chain()
    return {"format": FORMAT, "committee": committee, "committee_name": COMMITTEES[committee], "hub": hub,
            "generated_at": clock.now().isoformat(), "since": since.isoformat() if since else None,
            "members": members, "holder_lists": lists, "accesses": events,
            "audit_chain": {"intact": broken is None, "first_broken_event": broken,
                            "head": uow.audit.recent(limit=1)[0].digest if uow.audit.recent(limit=1) else None}}


def as_csv(report: dict) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["record", "at", "kind", "version", "actor", "action", "reference", "holders", "detail"])
    for r in report["holder_lists"]:
        w.writerow(["holder_list", r["changed_at"], r["kind"], r["version"], r["signed_by"], r["change"], "",
                    " ".join(h["name"] for h in r["holders"]), f"member={r['member']} signer={r['signer_fingerprint']}"])
    for e in report["accesses"]:
        d = e["detail"]
        w.writerow(["access", e["at"], d.get("kind", ""), d.get("holder_version", d.get("version", "")), e["actor"],
                    e["action"], e["reference"] or "", " ".join(d.get("holders", []) if isinstance(d.get("holders"), list)
                                                             else []), json.dumps(d, sort_keys=True)])
    return out.getvalue()


def write(uow: UnitOfWork, gpg: Gpg, clock: Clock, *, committee: str, since: datetime | None, hub: str,
          hub_key: str, out: Path) -> list[Path]:
    """Write OUT (JSON) and OUT's .csv sibling, each with a detached hub signature (.asc); audited."""
    report = build(uow, clock, committee=committee, since=since, hub=hub)
    json_path = out
    csv_path = out.with_suffix(".csv") if out.suffix == ".json" else out.with_name(out.name + ".csv")
    written = []
    for path, data in ((json_path, json.dumps(report, indent=2, ensure_ascii=False).encode("utf-8")),
                       (csv_path, as_csv(report).encode("utf-8"))):
        signature, _ = gpg.sign_detached(data, hub_key)
        path.write_bytes(data)
        path.with_name(path.name + ".asc").write_bytes(signature)
        written += [path, path.with_name(path.name + ".asc")]
    audit.record(uow, clock, "oversight.exported", actor="operator", committee=committee,
                 since=since.isoformat() if since else None, accesses=len(report["accesses"]),
                 versions=len(report["holder_lists"]),
                 sha256={p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (json_path, csv_path)})
    return written


def verify(gpg: Gpg, path: Path, hub_keys: list[str]) -> str:
    """Check PATH against PATH.asc: a good signature by one of the hub's keys (the current one, or an earlier one
    for an export made before a rotation: hub.key_fingerprints), or a reason."""
    signature = path.with_name(path.name + ".asc")
    if not signature.exists():
        return f"no signature file {signature.name}"
    check = gpg.verify_detached(path.read_bytes(), signature.read_bytes())
    if not check.valid:
        return f"signature {check.status}"
    if check.primary_fingerprint not in hub_keys:
        return f"signed by {check.primary_fingerprint}, not by this hub's key {hub_keys[0]}"
    return ""
