"""The processes' log lines on standard error: text for a person, or one JSON object per line for journald and
ELK — time (UTC, ISO 8601), level, logger, message, and the message reference in a field of its own when the
line names one. Lines name references, partners, addresses and reasons; never content, keys or passphrases."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REFERENCE = re.compile(r"\bPSR-\d{4}-\d{6}\b")

_handler: logging.Handler | None = None
_chosen: str | None = None  # the command line's --log-format, which the home's [log] format does not override
_format = "text"


class JsonLines(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": message,
        }
        found = getattr(record, "reference", None) or REFERENCE.search(message)
        if found:
            entry["reference"] = found if isinstance(found, str) else found.group(0)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup(level: int, chosen: str | None) -> None:
    """The root logger's handler on standard error, at *level*, in the format the command line chose (text until
    a home's settings say otherwise)."""
    global _handler, _chosen
    _chosen = chosen
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler = None
    if not root.handlers:  # as logging.basicConfig: a root logger someone already handles is left alone
        _handler = logging.StreamHandler(sys.stderr)
        root.addHandler(_handler)
        root.setLevel(level)
    use(chosen or "text")


def use(fmt: str) -> None:
    """Write in *fmt* from now on (text or json)."""
    global _format
    if fmt not in FORMATS:
        raise ValueError(f"log format is one of {', '.join(FORMATS)}, not {fmt!r}")
    _format = fmt
    if _handler is not None:
        _handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(TEXT))


def from_settings(fmt: str) -> None:
    """The home's [log] format, unless the command line chose one."""
    if _chosen is None:
        use(fmt)


def announce(text: str, *, level: int = logging.INFO) -> None:
    """A line for whoever runs the command ("passerelle: serving SMTP on ..."): as it is in text, or as a log
    record of its own in JSON, so that every line of a JSON log is JSON."""
    if _format == "json":
        logging.getLogger("passerelle").log(level, "%s", text)
    else:
        print(f"passerelle: {text}", file=sys.stderr, flush=True)
