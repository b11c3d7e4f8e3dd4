"""Tests of agent.service.logs: structured journal fields and plain stderr lines."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest

from agent.service.logs import (
    PlainFormatter,
    choose_target,
    fields,
    journal_handler,
    setup_logging,
    under_systemd,
)


@pytest.fixture
def clean_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


def test_under_systemd_detection() -> None:
    assert under_systemd({"JOURNAL_STREAM": "8:1234"})
    assert under_systemd({"INVOCATION_ID": "abc"})
    assert not under_systemd({})
    assert choose_target({}) == "stderr"


def test_fields_are_upper_case() -> None:
    assert fields(kind="temperature", source="thermometer", port="/dev/x") == {
        "EVENT_KIND": "temperature",
        "SOURCE": "thermometer",
        "PORT": "/dev/x",
    }


def test_journal_handler_sends_structured_fields() -> None:
    import_module("systemd.journal")  # a declared dependency: missing fails the test
    sent: list[tuple[str, dict[str, Any]]] = []

    def sender(message: str, **kw: Any) -> None:
        sent.append((message, kw))

    handler = journal_handler(sender)
    logger = logging.getLogger("test.journal")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.warning("port %s vanished", "/dev/ttyUSB0", extra=fields(source="thermometer"))
    finally:
        logger.removeHandler(handler)
    assert len(sent) == 1
    message, kw = sent[0]
    assert message == "port /dev/ttyUSB0 vanished"
    assert kw["SYSLOG_IDENTIFIER"] == "triage-agent"
    assert kw["SOURCE"] == "thermometer"
    assert kw["PRIORITY"] == "4"
    assert all(k == k.upper() for k in kw), "journald rejects lower-case field names"


def test_plain_text_to_stderr(clean_root: None) -> None:
    buf = io.StringIO()
    assert setup_logging("INFO", stream=buf, environ={}) == "stderr"
    logging.getLogger("agent.x").info("hello", extra=fields(kind="health"))
    logging.getLogger("agent.x").debug("hidden")
    out = buf.getvalue()
    assert "INFO agent.x: hello event_kind=health" in out
    assert "hidden" not in out


def test_setup_is_idempotent(clean_root: None) -> None:
    buf = io.StringIO()
    setup_logging("INFO", stream=io.StringIO(), environ={})
    setup_logging("INFO", stream=buf, environ={})
    logging.getLogger("agent.y").warning("once")
    assert buf.getvalue().count("once") == 1
    n_ours = sum(1 for h in logging.getLogger().handlers if getattr(h, "_triage_agent_handler", 0))
    assert n_ours == 1


def test_plain_formatter_without_time_under_systemd() -> None:
    rec = logging.LogRecord("agent.z", logging.ERROR, __file__, 1, "boom", None, None)
    assert PlainFormatter(with_time=False).format(rec) == "ERROR agent.z: boom"
