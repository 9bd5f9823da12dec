"""Security clearances (law of 11 December 1998): the levels, what a level covers, and what OCAM's members hold."""

from __future__ import annotations

from hub.errors import PartnerError

# Belgian levels (law of 11 December 1998), lowest first; "RESTRICTED" below them.
CLEARANCES = ("RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP-SECRET")
SECRET, TOP_SECRET = "SECRET", "TOP-SECRET"
# Every member of OCAM holds "très secret" from their designation: the director and the deputy (law Art. 7 §3 4°),
# the experts and the analysts (§4 6°), the administrative staff (§5 3°).
MEMBERS_HOLD = {"director": "law Art. 7 §3 4°", "deputy": "law Art. 7 §3 4°", "expert": "law Art. 7 §4 6°",
                "analyst": "law Art. 7 §4 6°", "staff": "law Art. 7 §5 3°"}


def known(clearance: str) -> str:
    """*clearance* once it is one of the levels; refused otherwise."""
    if clearance not in CLEARANCES:
        raise PartnerError(f"unknown clearance {clearance!r}; one of: {', '.join(CLEARANCES)}")
    return clearance


def cleared(holder: str, classification: str | None) -> bool:
    """Whether a clearance covers a classification (no classification: anyone registered)."""
    if not classification:
        return True
    return CLEARANCES.index(holder) >= CLEARANCES.index(classification)


def short_of_members(role: str, clearance: str, *, name: str | None = None) -> str | None:
    """Why a member of *role* cleared *clearance* may not be registered or hold embargoed information (below "très
    secret", law Art. 7 §3-§5), or None when they may."""
    if known(clearance) == TOP_SECRET:
        return None
    who = f"{name} is cleared {clearance}" if name else f"clearance {clearance}"
    return (f"{who}: every member of OCAM holds a TOP-SECRET (\"très secret\") clearance, a {role} by "
            f"{MEMBERS_HOLD.get(role, 'law Art. 7 §3-§5')}")
