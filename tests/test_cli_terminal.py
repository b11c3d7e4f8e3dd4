"""Tests of agent.cli.terminal: when the CLI colours its output (a real pty versus a pipe, NO_COLOR,
TERM=dumb), how it paints, and how it writes durations and local times (unit boundaries, rounding,
None, negative durations, the TZ of the process)."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator

import pytest

from agent.cli.terminal import duration, local_time, paint, use_colour


@pytest.fixture
def tty() -> Iterator[io.TextIOWrapper]:
    """The slave side of a real pseudo-terminal, as a text stream."""
    master, slave = os.openpty()
    stream = open(slave, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        yield stream
    finally:
        stream.close()
        os.close(master)


@pytest.fixture
def colour_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    return monkeypatch


def test_a_terminal_gets_colour_a_pipe_or_a_file_does_not(
    colour_env: pytest.MonkeyPatch, tty: io.TextIOWrapper
) -> None:
    assert use_colour(tty) is True
    assert use_colour(io.StringIO()) is False
    r, w = os.pipe()
    with open(w, "w", encoding="utf-8") as pipe:
        assert use_colour(pipe) is False
    os.close(r)


def test_a_stream_without_isatty_gets_no_colour(colour_env: pytest.MonkeyPatch) -> None:
    class Bare:
        def write(self, text: str) -> int:
            return len(text)

    assert use_colour(Bare()) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["1", "", "0"])
def test_no_color_with_any_value_turns_colour_off_on_a_terminal(
    colour_env: pytest.MonkeyPatch, tty: io.TextIOWrapper, value: str
) -> None:
    colour_env.setenv("NO_COLOR", value)
    assert use_colour(tty) is False


def test_a_dumb_terminal_gets_no_colour(
    colour_env: pytest.MonkeyPatch, tty: io.TextIOWrapper
) -> None:
    colour_env.setenv("TERM", "dumb")
    assert use_colour(tty) is False
    colour_env.delenv("TERM")
    assert use_colour(tty) is True  # no TERM at all is not "dumb"


@pytest.mark.parametrize(
    ("colour", "code"), [("green", 32), ("yellow", 33), ("red", 31), ("bold", 1), ("dim", 2)]
)
def test_paint_wraps_the_text_in_its_ansi_code_and_a_reset(colour: str, code: int) -> None:
    assert paint("ok", colour, True) == f"\x1b[{code}mok\x1b[0m"


def test_paint_leaves_the_text_alone_when_disabled_or_for_an_unknown_colour() -> None:
    assert paint("ok", "red", False) == "ok"
    assert paint("ok", "purple", True) == "ok"
    assert paint("", "red", False) == ""


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0 s"),
        (-5, "0 s"),  # a clock step backwards never prints a negative duration
        (3, "3 s"),
        (59.4, "59 s"),
        (59.6, "1 min 00 s"),  # rounded first, then split into units
        (60, "1 min 00 s"),
        (245, "4 min 05 s"),
        (3599, "59 min 59 s"),
        (3600, "1 h 00 min"),
        (2 * 3600 + 3 * 60 + 59, "2 h 03 min"),  # seconds are dropped past an hour
        (47 * 3600 + 59 * 60, "47 h 59 min"),
        (48 * 3600, "2 d 00 h"),
        (3 * 86400 + 4 * 3600 + 59 * 60, "3 d 04 h"),
        (400 * 86400, "400 d 00 h"),
    ],
)
def test_duration_picks_the_two_largest_units(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("tz", "ts", "text"),
    [
        ("UTC", 0.0, "1970-01-01 00:00:00"),
        ("Asia/Shanghai", 0.0, "1970-01-01 08:00:00"),
        ("Asia/Shanghai", 1_767_225_599.9, "2026-01-01 07:59:59"),  # fraction truncated
        ("America/New_York", 1_751_328_000.0, "2025-06-30 20:00:00"),  # summer time, UTC-4
        ("America/New_York", 1_767_225_600.0, "2025-12-31 19:00:00"),  # winter, UTC-5
    ],
)
def test_local_time_is_in_the_process_time_zone(
    zone: pytest.MonkeyPatch, tz: str, ts: float, text: str
) -> None:
    zone.setenv("TZ", tz)
    time.tzset()
    assert local_time(ts) == text


def test_local_time_of_none_is_a_dash() -> None:
    assert local_time(None) == "-"
