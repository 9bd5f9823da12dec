"""Revision 0014 (embargo declarations): existing sealed items get the partner that declared them; a judicial one
declared by the federal-prosecutor partner is confirmed as of its sealing, one declared by another service stays
unconfirmed (law Art. 11); down and up again."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import column, insert, inspect, table

from store import Database, downgrade, ensure_head, upgrade
from store.base import UTCDateTime
from tests.support import stores

SEALED = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
PARTNERS = ((1, "police-fed", "police"), (2, "fed-prosecutor-office", "federal-prosecutor"), (3, "vsse", "intelligence"))
ITEMS = ((1, 1, "judicial"), (2, 2, "judicial"), (3, 3, "foreign"))  # (message, partner, kind)


def _rows_0013(database: Database) -> None:
    partner = table("partner", *(column(c) for c in ("id", "name", "kind", "email", "fingerprint", "key_revoked",
                                                     "clearance", "receipts", "relay_is_own_server")),
                    *(column(c, UTCDateTime()) for c in ("key_created_at", "created_at", "updated_at")))
    message = table("message", *(column(c) for c in (
        "id", "partner_id", "reference", "direction", "rfc_message_id", "body_digest", "size", "encrypted",
        "mail_from", "kind", "urgency", "urgency_source", "embargo", "fields", "links", "state", "receipt_status")),
        column("received_at", UTCDateTime()))
    item = table("embargo_item", *(column(c) for c in ("id", "message_id", "kind", "holder_version", "holders",
                                                       "ciphertext", "content_digest")),
                 column("sealed_at", UTCDateTime()))
    with database.engine.begin() as c:
        c.execute(insert(partner), [dict(id=i, name=name, kind=kind, email=f"spoc@{name}.test", fingerprint=f"{i:040X}",
                                         key_revoked=False, clearance="SECRET", receipts="encrypted",
                                         relay_is_own_server=False, key_created_at=SEALED, created_at=SEALED,
                                         updated_at=SEALED) for i, name, kind in PARTNERS])
        c.execute(insert(message), [dict(
            id=m, partner_id=p, reference=f"PSR-2026-00000{m}", direction="inbound", rfc_message_id=f"<{m}@x.test>",
            body_digest=f"{m:064x}", size=10, encrypted=False, mail_from="spoc@x.test", kind="spontaneous",
            urgency="ROUTINE", urgency_source="default", embargo=kind, fields="{}", links="{}", state="processed",
            receipt_status="sent", received_at=SEALED) for m, p, kind in ITEMS])
        c.execute(insert(item), [dict(id=m, message_id=m, kind=kind, holder_version=1, holders="[]",
                                      ciphertext=b"sealed", content_digest=f"{m:064x}", sealed_at=SEALED)
                                 for m, _p, kind in ITEMS])


def test_existing_items_get_who_declared_them_and_only_the_prosecutors_judicial_one_is_confirmed(tmp_path):
    database = Database(stores.fresh_url(tmp_path, "declarations.db", migrated=False))
    upgrade(database.engine, "0013")
    _rows_0013(database)
    upgrade(database.engine)
    with database.reader() as uow:
        found = {m: (i.declared_by, i.confirmed_by, i.confirmed_at) for m in (1, 2, 3)
                 if (i := uow.embargo.for_message(m)) is not None}
    assert found == {1: ("police-fed", None, None), 2: ("fed-prosecutor-office", "fed-prosecutor-office", SEALED),
                     3: ("vsse", None, None)}
    downgrade(database.engine, "0013")
    assert "declared_by" not in {c["name"] for c in inspect(database.engine).get_columns("embargo_item")}
    upgrade(database.engine)
    ensure_head(database.engine)
    database.dispose()
