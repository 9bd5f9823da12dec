"""Signed statements' canonical text: what is signed reads back the same, and anything else is refused."""

from __future__ import annotations

import pytest

from hub.acts.statements import Statement
from hub.errors import StatementError

TITLE = "Passerelle test act"


def test_a_statement_reads_back_field_for_field_and_its_digest_is_its_text():
    made = Statement.of(TITLE, ("hub", "hub@ocam.test"), ("holder", "ana A1"), ("holder", "bob B2"))
    read = Statement.parse(made.text(), TITLE)
    assert read == made and read.values("holder") == ["ana A1", "bob B2"] and read.one("hub") == "hub@ocam.test"
    assert made.text() == "Passerelle test act\nhub: hub@ocam.test\nholder: ana A1\nholder: bob B2\n"
    assert Statement.of(TITLE, ("hub", "hub@ocam.test")).digest() != made.digest()


@pytest.mark.parametrize("text", [
    "Passerelle other act\nhub: h\n",  # another kind of act
    "Passerelle test act\nhub: h",  # no final line end
    "Passerelle test act\nhub h\n",  # not "key: value"
    "Passerelle test act\nHub: h\n",  # a field name not in lower case
    "Passerelle test act\nhub: \n",  # an empty value
    "Passerelle test act\nhub: h\x1b[2J\n",  # a control character
])
def test_anything_but_a_canonical_statement_of_its_kind_is_refused(text):
    with pytest.raises(StatementError):
        Statement.parse(text, TITLE)


def test_a_value_is_one_bounded_line_and_a_field_is_there_once():
    with pytest.raises(StatementError):
        Statement.of(TITLE, ("reason", "one line\ndecision: erase"))
    with pytest.raises(StatementError):
        Statement.of(TITLE, ("reason", "x" * 501))
    with pytest.raises(StatementError):
        Statement.of(TITLE, ("decision", "keep"), ("decision", "erase")).one("decision")
