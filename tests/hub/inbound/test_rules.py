"""The routing rules are data, validated when the hub starts: a broken file stops the hub, every problem named;
a valid one matches messages by partner, partner kind, kind and urgency."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hub.errors import RoutingRulesError
from hub.inbound.rules import SHIPPED, Rules
from tests.hub.rig import make_home

BROKEN = [
    ("", "no rule"),
    ('[defaults]\nx = 1\n', "unknown table(s) defaults"),
    ('[[rule]]\nname = "a"\nbasis = "b"\nduty_desks = true\nurgency = ["SOON"]\n', "urgency SOON unknown"),
    ('[[rule]]\nname = "a"\nbasis = "b"\nduty_desks = true\npartner_kind = ["police", "army"]\n',
     "partner_kind army unknown"),
    ('[[rule]]\nname = "a"\nbasis = "b"\nduty_desks = true\nkind = "request"\n', "kind is a list of names"),
    ('[[rule]]\nname = "a"\nbasis = "b"\nduty_desks = true\nkind = []\n', "kind lists nothing"),
    ('[[rule]]\nname = "a"\nbasis = "b"\n', "no target"),
    ('[[rule]]\nname = "a"\nduty_desks = true\n', "its basis is required"),
    ('[[rule]]\nname = "A b"\nbasis = "b"\nduty_desks = true\n', "a name of lower-case letters"),
    ('[[rule]]\nname = "a"\nbasis = "b"\nduty_desks = "yes"\n', "duty_desks is true or false"),
    ('[[rule]]\nname = "a"\nbasis = "b"\nmembers = ["x"]\ndesk = ["y"]\n', "unknown key(s) desk"),
    ('[[rule]]\nname = "a"\nbasis = "b"\nduty_desks = true\n[[rule]]\nname = "a"\nbasis = "c"\nmembers = ["x"]\n',
     "used twice: a"),
    ('[[rule]]\nname = "a"\nbasis = "b"\nduty_desks = true\nkind = ["request"]\n', "no rule without conditions"),
    ('[[rule]\nname = "a"', "Expected"),
]


@pytest.mark.parametrize("text,problem", BROKEN, ids=[p for _, p in BROKEN])
def test_a_broken_rules_file_is_refused_with_its_problem_named(tmp_path, text, problem):
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(RoutingRulesError, match=problem.replace("(", r"\(").replace(")", r"\)")) as refused:
        Rules.load(path)
    assert str(path) in str(refused.value)


def test_the_shipped_rules_send_everything_to_the_duty_desks():
    (rule,) = Rules.load(SHIPPED).rules
    assert rule.duty_desks and rule.when == () and rule.matches({"partner": "x", "kind": "spontaneous"})


def test_conditions_all_match_and_a_list_any_of_its_values(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nname = "all"\nbasis = "b"\nduty_desks = true\n\n'
                    '[[rule]]\nname = "flash-police"\nbasis = "b"\nmembers = ["ana"]\n'
                    'partner_kind = ["police", "customs"]\nurgency = ["FLASH"]\nkind = ["request", "response"]\n')
    rule = Rules.load(path).rules[1]
    facts = {"partner": "police-fed", "partner_kind": "police", "kind": "request", "urgency": "FLASH"}
    assert rule.matches(facts)
    assert rule.matches({**facts, "partner_kind": "customs", "kind": "response"})
    assert not rule.matches({**facts, "urgency": "URGENT"})
    assert not rule.matches({**facts, "kind": "spontaneous"})


def test_serve_refuses_to_start_on_a_broken_rules_file(short_tmp):
    """`passerelle serve` stops at once, naming the file and the problem, before it listens."""
    home = make_home(short_tmp)
    bad = short_tmp / "rules.toml"
    bad.write_text('[[rule]]\nname = "a"\nbasis = "b"\nduty_desks = true\nurgency = ["SOON"]\n')
    env = {**os.environ, "PASSERELLE_HUB__INBOUND_RULES_FILE": str(bad)}
    result = subprocess.run([sys.executable, "-m", "hub", "serve", "--home", str(home.settings.home), "--listen",
                             "127.0.0.1:0"], capture_output=True, timeout=60, env=env)
    assert result.returncode == 2
    assert f"{bad}: rule 1 (a): urgency SOON unknown" in result.stderr.decode()
