"""The dashboard's tables: their columns, and which of them a terminal of a given width shows.

Every screen keeps, at 80 columns, what the duty officer reads and acts on (the time left, the reference, who
owes, the urgency; a message's state, receipt and time); what only adds to it (the absolute due time, a
message's kind or the source of its urgency, a key's fingerprint) comes back from 100 or 125 columns on.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.vocabulary import ItemState

MEDIUM, WIDE = 100, 125  # terminal widths from which the secondary columns show


@dataclass(frozen=True)
class Column:
    label: str
    from_width: int = 0  # the terminal width from which the column is shown


TABLES: dict[str, tuple[Column, ...]] = {
    "queues": (Column("queue"), *(Column(s.value) for s in ItemState)),  # one count per state, as tui.app fills it
    "alerts": (Column("when (Brussels)"), Column("alert"), Column("reference")),
    "deadline-table": (Column("left"), Column("due (Brussels)", MEDIUM), Column("reference"), Column("partner"),
                       Column("owed by"), Column("urgency")),
    "traffic-table": (Column("reference"), Column("dir"), Column("partner"), Column("kind", MEDIUM),
                      Column("urgency"), Column("source", WIDE), Column("embargo", MEDIUM), Column("state"),
                      Column("receipt"), Column("at")),
    "partner-table": (Column("partner"), Column("kind"), Column("key", MEDIUM), Column("expires"),
                      Column("last message"), Column("on time")),
    "open-alerts": (Column("when (Brussels)"), Column("alert"), Column("reference"), Column("about")),
    "stuck-table": (Column("what"), Column("id"), Column("where"), Column("why")),
    "embargo-items": (Column("reference"), Column("kind"), Column("from"), Column("received (Brussels)", WIDE),
                      Column("sealed to", MEDIUM), Column("decision"), Column("prosecutor")),
    "holder-lists": (Column("list"), Column("version"), Column("change"), Column("member"),
                     Column("signed by", MEDIUM), Column("when (Brussels)", MEDIUM), Column("holders")),
    "pending-decisions": (Column("pending decision"), Column("integrate"), Column("consent"), Column("director"),
                          Column("second party"), Column("since (Brussels)", MEDIUM)),
}


def shown(table: str, width: int) -> list[int]:
    """The indexes of *table*'s columns a terminal *width* columns wide shows."""
    return [i for i, column in enumerate(TABLES[table]) if width >= column.from_width]


def labels(table: str, width: int) -> list[str]:
    return [TABLES[table][i].label for i in shown(table, width)]


def cut(text: str, width: int) -> str:
    """*text* in at most *width* characters, an ellipsis where it was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"
