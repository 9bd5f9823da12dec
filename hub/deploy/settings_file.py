"""Writing fields of the home's settings file (passerelle.toml) in place: the other lines and comments kept, the
result checked by the settings' own reader before it replaces the file, mode 0600."""

from __future__ import annotations

import json
import os
import re
import tomllib
from datetime import datetime, timezone
from pathlib import Path

from hub.errors import HomeError


def _value(value: object) -> str:
    if isinstance(value, datetime):
        return json.dumps(value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def set_fields(path: Path, section: str, fields: dict[str, object]) -> str:
    """Set *fields* of [*section*] (a value None removes the field); returns the text it replaced, for
    :func:`restore`. The section is added at the end if the file has none."""
    before = path.read_text()
    lines = before.splitlines()
    header = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if (m := header.match(line)) and m.group(1).strip() == section),
                 None)
    if start is None:
        lines += ["", f"[{section}]"]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if header.match(lines[i])), len(lines))
    for name, value in fields.items():
        field = re.compile(rf"^\s*{re.escape(name)}\s*=")
        at = next((i for i in range(start + 1, end) if field.match(lines[i])), None)
        if value is None:
            if at is not None:
                del lines[at]
                end -= 1
            continue
        line = f"{name} = {_value(value)}"
        if at is not None:
            lines[at] = line
        else:
            last = max([start] + [i for i in range(start + 1, end) if lines[i].strip()])
            lines.insert(last + 1, line)
            end += 1
    text = "\n".join(lines) + "\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # a field another hand wrote across several lines: nothing replaced
        raise HomeError(f"{path} could not be updated ({exc}); set {', '.join(fields)} in [{section}] by hand") \
            from None
    _replace(path, text)
    return before


def restore(path: Path, text: str) -> None:
    """Put back the text :func:`set_fields` replaced (an act that failed after it)."""
    _replace(path, text)


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
