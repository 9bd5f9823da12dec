"""What a check made without the hub's home reports (a receipt's, an oversight export's): a line per check, good
or bad, and whether all held."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Checklist:
    lines: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.bad

    def good(self, line: str) -> None:
        self.lines.append(f"ok   {line}")

    def fail(self, line: str) -> None:
        self.lines.append(f"BAD  {line}")
        self.bad.append(line)
