"""The state vocabulary (store/vocabulary.py) and the rows agree: each state column's default is a member of its
enum and holds its longest member; the code writes and compares states through the enums only, and every member
is a state the code uses."""

from __future__ import annotations

import ast
from pathlib import Path

from store import Deadline, EmbargoDecision, Heartbeat, Message, OutboundMail, QueueItem, RetentionItem
from store import vocabulary as V

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = {  # (model, column): the enum of the values it holds
    (Message, "state"): V.MessageState, (Message, "receipt_status"): V.ReceiptStatus,
    (QueueItem, "state"): V.ItemState, (OutboundMail, "state"): V.DeliveryState, (Deadline, "state"): V.DeadlineState,
    (Heartbeat, "state"): V.HealthState, (EmbargoDecision, "state"): V.DecisionState,
    (RetentionItem, "state"): V.RetentionState,
}
STATE_NAMES = {"state", "receipt_status"}  # the columns' names, as attributes, keywords and keys


def _sources() -> list[Path]:
    return [p for package in ("hub", "tui", "store") for p in (ROOT / package).rglob("*.py")
            if "migrations" not in p.parts and p.name != "vocabulary.py"]


def _is_state(node: ast.AST) -> bool:
    """`x.state`, `row["state"]`: a state column's value."""
    if isinstance(node, ast.Attribute):
        return node.attr in STATE_NAMES
    return isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value in STATE_NAMES


def _literals(node: ast.AST) -> list[str]:
    """The bare strings an expression may evaluate to (a constant, either branch of a conditional)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def test_each_state_column_defaults_to_and_holds_its_enum():
    """A default outside the enum, or a member longer than its column (PostgreSQL refuses it), fails."""
    for (model, name), enum in COLUMNS.items():
        column = model.__table__.c[name]
        if column.default is not None:
            assert column.default.arg in set(enum), f"{model.__name__}.{name} defaults to {column.default.arg!r}"
        assert max(len(m) for m in enum) <= column.type.length, f"{model.__name__}.{name} is too short"


def test_states_are_written_and_compared_through_the_enums_and_every_member_is_used():
    bare, used = [], set()
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            found: list[str] = []
            if isinstance(node, ast.Compare) and any(_is_state(n) for n in (node.left, *node.comparators)):
                found = [s for n in (node.left, *node.comparators) for s in _literals(n)]
            elif isinstance(node, ast.keyword) and node.arg in STATE_NAMES:
                found = _literals(node.value)
            elif isinstance(node, ast.Assign) and any(_is_state(t) for t in node.targets):
                found = _literals(node.value)
            bare += [f"{path.relative_to(ROOT)}:{node.lineno}: {s!r}" for s in found]
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and isinstance(getattr(V, node.value.id, None), type)):
                used.add((node.value.id, node.attr))
    assert bare == []
    unused = [f"{enum.__name__}.{m.name}" for enum in set(COLUMNS.values()) for m in enum
              if (enum.__name__, m.name) not in used]
    assert unused == []
