"""Local days and ISO weeks in the district time zone, alert labels."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from central.config import ConfigError
from central.report.days import day_window, duration_text, parse_week, week_window
from central.report.labels import family_for, label_for, value_text


def test_a_day_is_local_midnight_to_midnight_even_across_a_clock_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert (
        day_window(date(2026, 3, 29), berlin).end - day_window(date(2026, 3, 29), berlin).start
        == 23 * 3600
    )
    assert (
        day_window(date(2026, 10, 25), berlin).end - day_window(date(2026, 10, 25), berlin).start
        == 25 * 3600
    )
    nairobi = day_window(date(2026, 11, 23), ZoneInfo("Africa/Nairobi"))
    assert nairobi.start == 1_795_381_200.0  # 2026-11-22T21:00Z


def test_iso_weeks() -> None:
    tz = ZoneInfo("UTC")
    assert parse_week("2026-W48", tz) == (2026, 48)
    w = week_window(2026, 1, tz)
    assert (w.first, w.last) == (date(2025, 12, 29), date(2026, 1, 4))
    with pytest.raises(ConfigError, match="no week 54"):
        parse_week("2026-W54", tz)
    with pytest.raises(ConfigError, match="not an ISO week"):
        parse_week("48", tz)


def test_labels_for_known_and_unknown_alerts() -> None:
    assert label_for("desk_unattended").label == "Triage desk unattended"
    assert label_for("camera_tilted").label == "Camera tilted"
    assert label_for("camera_tilted").family == "setup"
    assert label_for("noise_level").family == "other"
    assert family_for("noise_level", "setup") == "setup"  # the box's own family field
    assert family_for("fever", "setup") == "patient"  # the label table wins for known names
    assert value_text("fever", 38.04) == "38.0 °C"
    assert value_text("crowding", 7.0) == "7 people"
    assert value_text("noise_level", 61.25) == "61.2"
    assert duration_text(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert duration_text(42) == "42 s"
