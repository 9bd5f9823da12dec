"""The distribution policy of law Art. 10: load and validate it, and resolve an evaluation's recipients."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from store import UnitOfWork

from hub.errors import HubError

SHIPPED = Path(__file__).with_name("policy.toml")
KINDS = ("strategic", "punctual")
ORIGINS = ("own", "partner", "government")
GROUPS = ("national-security-council", "support-services", "crisis-centre", "federal-prosecution",
          "security-authority", "requesting-government-member", "requesting-service", "its-minister")
# Support services of law Art. 2 (not the Federal Prosecutor, not a member of the government).
NOT_SUPPORT_SERVICES = ("federal-prosecutor", "government")


class PolicyError(HubError):
    """The policy file is invalid, or an evaluation cannot be distributed as it says."""


@dataclass(frozen=True)
class Candidate:
    """One recipient the policy names, with the legal basis and what it takes to check it."""

    name: str
    email: str
    fingerprint: str
    clearance: str
    basis: str


@dataclass(frozen=True)
class Policy:
    rules: dict[tuple[str, str], dict[str, str]]

    @classmethod
    def load(cls, path: Path | None = None) -> "Policy":
        """Read and validate the policy; every problem is named (checked at start-up)."""
        path = path or SHIPPED
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"{path}: {exc}") from exc
        rules: dict[tuple[str, str], dict[str, str]] = {}
        for i, rule in enumerate(data.get("rule", []), 1):
            kind, origin, groups = rule.get("kind"), rule.get("origin"), rule.get("groups") or {}
            where = f"{path}: rule {i}"
            if kind not in KINDS or origin not in ORIGINS:
                raise PolicyError(f"{where}: kind must be one of {KINDS} and origin one of {ORIGINS}")
            if (kind, origin) in rules:
                raise PolicyError(f"{where}: a second rule for {kind}/{origin}")
            unknown = [g for g in groups if g not in GROUPS]
            if unknown or not groups:
                raise PolicyError(f"{where}: unknown or no groups {unknown}; known: {', '.join(GROUPS)}")
            if any(not str(basis).strip() for basis in groups.values()):
                raise PolicyError(f"{where}: every group needs its legal basis")
            rules[(kind, origin)] = {g: str(b) for g, b in groups.items()}
        if not rules:
            raise PolicyError(f"{path}: no rule")
        return cls(rules)

    def resolve(self, uow: UnitOfWork, *, kind: str, origin: str, origin_name: str | None) -> list[Candidate]:
        """Every recipient of the rule for (kind, origin); an unknown rule or an empty group stops the send."""
        groups = self.rules.get((kind, origin))
        if groups is None:
            raise PolicyError(f"the policy has no rule for a {kind} evaluation of origin {origin}")
        found: dict[str, Candidate] = {}
        for group, basis in groups.items():
            members = self._members(uow, group, origin_name)
            if not members:
                raise PolicyError(f"group {group!r} ({basis}) has no registered member: register it, "
                                  "the distribution is never narrowed silently")
            for name, email, fingerprint, clearance in members:
                found.setdefault(name, Candidate(name, email, fingerprint, clearance, basis))
        return list(found.values())

    @staticmethod
    def _members(uow: UnitOfWork, group: str, origin_name: str | None) -> list[tuple[str, str, str, str]]:
        def rows(items):
            return [(r.name, r.email, r.fingerprint, r.clearance) for r in items]

        if group == "support-services":
            return rows(p for p in uow.partners.all() if p.kind not in NOT_SUPPORT_SERVICES)
        if group == "requesting-service":
            partner = uow.partners.by_name(origin_name or "")
            return rows([partner]) if partner else []
        if group == "its-minister":
            partner = uow.partners.by_name(origin_name or "")
            return rows(m for m in uow.recipients.of_type("minister") if partner and partner.kind in m.oversees)
        if group == "requesting-government-member":
            # A minister registered as a recipient, or the member of the government that asked as a partner
            # (its requests come through the gateway, AR Art. 7).
            member = uow.recipients.by_name(origin_name or "")
            if member is not None and member.type == "minister":
                return rows([member])
            asker = uow.partners.by_name(origin_name or "")
            return rows([asker]) if asker is not None and asker.kind == "government" else []
        types = {"national-security-council": ("nsc-member",), "crisis-centre": ("crisis-centre",),
                 "federal-prosecution": ("federal-prosecutor", "college-pg-terrorism"),
                 "security-authority": ("security-authority",)}[group]
        return rows(uow.recipients.of_type(*types))
