"""Where log records go: journald with structured fields under systemd, plain text on stderr otherwise.

Under systemd (``JOURNAL_STREAM`` or ``INVOCATION_ID`` set and the journal socket present) records go
to journald through :class:`systemd.journal.JournalHandler` with ``SYSLOG_IDENTIFIER=triage-agent``
and any structured fields passed as ``extra`` (upper-case names such as ``EVENT_KIND``, ``SOURCE``;
build them with :func:`fields`). A technician can then filter with
``journalctl -u triage-agent SOURCE=thermometer``. Elsewhere records are one plain line each on
stderr, with the structured fields appended as ``key=value``.

Images, frames and secrets are never logged; only counts, states and messages. As a last line of
defence every record passes :class:`RedactSecrets` (passwords remembered at start, URL credentials).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TextIO

from agent.flow.redact import redact

SYSLOG_IDENTIFIER = "triage-agent"
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
_FIELD = re.compile(r"^[A-Z][A-Z0-9_]*$")
_STD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}

LogTarget = Literal["journal", "stderr"]

_OWN_HANDLER = "_triage_agent_handler"


def fields(
    *, kind: str | None = None, source: str | None = None, **more: object
) -> dict[str, object]:
    """Structured journal fields for ``extra=``: ``EVENT_KIND``, ``SOURCE`` and upper-cased others."""
    out: dict[str, object] = {}
    if kind is not None:
        out["EVENT_KIND"] = kind
    if source is not None:
        out["SOURCE"] = source
    for key, value in more.items():
        out[key.upper()] = value
    return out


def structured_fields(record: logging.LogRecord) -> dict[str, object]:
    """The journal-style (upper-case) extra fields carried by ``record``."""
    return {k: v for k, v in record.__dict__.items() if k not in _STD_ATTRS and _FIELD.fullmatch(k)}


def under_systemd(environ: Mapping[str, str] | None = None) -> bool:
    """True when started by systemd (its stdout/stderr are connected to the journal)."""
    env = os.environ if environ is None else environ
    return bool(env.get("JOURNAL_STREAM") or env.get("INVOCATION_ID"))


class PlainFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` (no time when journald adds it)."""

    def __init__(self, with_time: bool = True) -> None:
        fmt = "%(asctime)s " if with_time else ""
        super().__init__(fmt + "%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = structured_fields(record)
        if extra:
            line += " " + " ".join(f"{k.lower()}={v}" for k, v in sorted(extra.items()))
        return line


JournalSender = Callable[..., Any]


def journal_handler(sender: JournalSender | None = None) -> logging.Handler:
    """A JournalHandler sending only valid journal fields (upper-case names), tagged triage-agent."""
    from systemd import journal  # noqa: PLC0415 - optional, only under systemd

    send: JournalSender = journal.send if sender is None else sender

    def send_valid(message: str, /, **kwargs: Any) -> Any:
        valid = {k: v for k, v in kwargs.items() if _FIELD.fullmatch(k) and v is not None}
        return send(message, **valid)

    handler: logging.Handler = journal.JournalHandler(
        sender_function=send_valid, SYSLOG_IDENTIFIER=SYSLOG_IDENTIFIER
    )
    return handler


def choose_target(environ: Mapping[str, str] | None = None) -> LogTarget:
    """journald when under systemd and the journal is reachable and systemd-python is installed."""
    if not under_systemd(environ) or not JOURNAL_SOCKET.exists():
        return "stderr"
    try:
        import systemd.journal  # noqa: F401, PLC0415 - probe only
    except ImportError:
        return "stderr"
    return "journal"


class RedactSecrets(logging.Filter):
    """Masks remembered secrets and URL credentials in every record (message, args, traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
        return True


def setup_logging(
    level: str | int = "INFO",
    *,
    target: LogTarget | None = None,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> LogTarget:
    """Configure the root logger once (idempotent: replaces our previous handler); returns target."""
    chosen = choose_target(environ) if target is None else target
    handler: logging.Handler
    if chosen == "journal":
        handler = journal_handler()
    else:
        handler = logging.StreamHandler(sys.stderr if stream is None else stream)
        handler.setFormatter(PlainFormatter(with_time=not under_systemd(environ)))
    handler.addFilter(RedactSecrets())
    setattr(handler, _OWN_HANDLER, True)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _OWN_HANDLER, False):
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(level)
    return chosen
