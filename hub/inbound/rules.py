"""The routing rules of inbound messages: who at OCAM receives a copy (rules.toml, or hub.inbound_rules_file),
validated at start-up and resolved against the registry (AR Art. 11 §1-2, law Art. 6, law Art. 9 §3 5°)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from store import UnitOfWork

from hub.errors import RoutingRulesError
from hub.intake.fields import KINDS, URGENCIES
from hub.registry.partners import PARTNER_KINDS
from hub.registry.recipients import OCAM_DUTY

SHIPPED = Path(__file__).with_name("rules.toml")
# Condition -> the values it may take (None: any registered name).
CONDITIONS: dict[str, tuple[str, ...] | None] = {
    "partner": None, "partner_kind": PARTNER_KINDS, "kind": KINDS, "urgency": URGENCIES}
TARGETS = ("duty_desks", "desks", "members")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

DESK, MEMBER, HOLDER = "desk", "member", "holder"  # what a target is to the message (kept with each copy)


@dataclass(frozen=True)
class Rule:
    name: str
    basis: str
    when: tuple[tuple[str, frozenset[str]], ...]  # (condition, accepted values); empty: every message
    duty_desks: bool
    desks: tuple[str, ...]
    members: tuple[str, ...]

    def matches(self, facts: dict[str, str]) -> bool:
        return all(facts.get(condition) in values for condition, values in self.when)


@dataclass(frozen=True)
class Target:
    """One of OCAM's people a message goes to, and why."""

    name: str
    email: str
    fingerprint: str
    clearance: str
    role: str  # desk | member | holder
    basis: str


@dataclass(frozen=True)
class Unresolved:
    """A name a matching rule gives that the registry does not hold as it says."""

    name: str
    basis: str
    why: str


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]

    @classmethod
    def load(cls, path: Path | None = None) -> "Rules":
        """Read and validate the rules; every problem is named (checked when the hub starts)."""
        path = path or SHIPPED
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RoutingRulesError(f"{path}: {exc}") from exc
        unknown = sorted(set(data) - {"rule"})
        if unknown:
            raise RoutingRulesError(f"{path}: unknown table(s) {', '.join(unknown)}; only [[rule]]")
        if not isinstance(data.get("rule", []), list):
            raise RoutingRulesError(f"{path}: rules are [[rule]] tables")
        rules = tuple(_rule(f"{path}: rule {i}", entry) for i, entry in enumerate(data.get("rule", []), 1))
        if not rules:
            raise RoutingRulesError(f"{path}: no rule")
        names = [r.name for r in rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise RoutingRulesError(f"{path}: rule name(s) used twice: {', '.join(twice)}")
        if not any(not r.when for r in rules):
            raise RoutingRulesError(f"{path}: no rule without conditions: a message no rule matches would reach "
                                    "nobody at OCAM")
        return cls(rules)

    def route(self, uow: UnitOfWork, *, partner: str, partner_kind: str, kind: str,
              urgency: str) -> tuple[list[Target], list[Unresolved]]:
        """The registered people the matching rules name, each once (the first rule naming them gives the
        basis), and the names the registry does not hold as the rules say."""
        facts = {"partner": partner, "partner_kind": partner_kind, "kind": kind, "urgency": urgency}
        targets: dict[str, Target] = {}
        unresolved: dict[str, Unresolved] = {}
        emails: set[str] = set()

        def add(target: Target) -> None:
            if target.name not in targets and target.email not in emails:
                targets[target.name] = target
                emails.add(target.email)

        duty_desks = None  # read once, for the first rule that names them
        for rule in (r for r in self.rules if r.matches(facts)):
            basis = f"rule {rule.name}: {rule.basis}"
            if rule.duty_desks and duty_desks is None:
                duty_desks = uow.recipients.keys_of_type(OCAM_DUTY)
            desks = list(duty_desks) if rule.duty_desks else []
            for name in rule.desks:
                desk = uow.recipients.by_name(name)
                if desk is None or desk.type != OCAM_DUTY:
                    why = (f"no registered recipient named {name}" if desk is None else
                           f"{name} is a {desk.type}, not one of OCAM's desks ({OCAM_DUTY}): inbound messages "
                           "stay within OCAM")
                    unresolved.setdefault(name, Unresolved(name, basis, why))
                else:
                    desks.append(desk)
            for desk in desks:
                add(Target(desk.name, desk.email, desk.fingerprint, desk.clearance, DESK, basis))
            for name in rule.members:
                member = uow.members.by_name(name)
                if member is None:
                    unresolved.setdefault(name, Unresolved(name, basis, f"no registered member named {name}"))
                else:
                    add(Target(member.name, member.email, member.fingerprint, member.clearance, MEMBER, basis))
        return list(targets.values()), [u for name, u in unresolved.items() if name not in targets]


def _rule(where: str, entry: object) -> Rule:
    if not isinstance(entry, dict):
        raise RoutingRulesError(f"{where}: not a table")
    unknown = sorted(set(entry) - {"name", "basis", *CONDITIONS, *TARGETS})
    if unknown:
        raise RoutingRulesError(f"{where}: unknown key(s) {', '.join(unknown)}; conditions are "
                                f"{', '.join(CONDITIONS)}, targets {', '.join(TARGETS)}")
    name, basis = entry.get("name"), entry.get("basis")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RoutingRulesError(f"{where}: a name of lower-case letters, digits and dashes is required")
    where = f"{where} ({name})"
    if not isinstance(basis, str) or not basis.strip():
        raise RoutingRulesError(f"{where}: its basis is required (recorded with every copy)")
    when = []
    for condition, accepted in CONDITIONS.items():
        if condition not in entry:
            continue
        values = _names(where, condition, entry[condition])
        wrong = [v for v in values if accepted is not None and v not in accepted]
        if wrong:
            raise RoutingRulesError(f"{where}: {condition} {', '.join(wrong)} unknown; one of {', '.join(accepted)}")
        when.append((condition, frozenset(values)))
    duty_desks = entry.get("duty_desks", False)
    if not isinstance(duty_desks, bool):
        raise RoutingRulesError(f"{where}: duty_desks is true or false")
    desks = _names(where, "desks", entry.get("desks", []), empty=True)
    members = _names(where, "members", entry.get("members", []), empty=True)
    if not (duty_desks or desks or members):
        raise RoutingRulesError(f"{where}: no target (duty_desks, desks or members)")
    return Rule(name, basis.strip(), tuple(when), duty_desks, desks, members)


def _names(where: str, key: str, value: object, *, empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RoutingRulesError(f"{where}: {key} is a list of names")
    if not value and not empty:
        raise RoutingRulesError(f"{where}: {key} lists nothing (leave it out to match every message)")
    return tuple(v.strip() for v in value)
