"""Opening hours (agent/zones/hours.py): the [clinic] ranges, in the box's local time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.config import ConfigError, parse_config
from agent.zones.config import ClinicConfig
from agent.zones.hours import OpeningHours


def test_opening_hours_in_the_local_time_zone() -> None:
    with pytest.raises(ConfigError, match="ends before it starts"):
        parse_config({"clinic": {"mon": ["17:00-08:00"]}})
    with pytest.raises(ConfigError, match="not a time range"):
        parse_config({"clinic": {"mon": ["8-17"]}})
    clinic = ClinicConfig(mon=["08:00-12:00", "13:00-24:00"])
    hours = OpeningHours(clinic, "Asia/Shanghai")  # UTC+8, no daylight saving
    monday_9_local = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC).timestamp()
    assert hours.is_open(monday_9_local)
    assert not hours.is_open(monday_9_local + 3.5 * 3600)  # 12:30 lunch
    assert hours.is_open(monday_9_local + 14.9 * 3600)  # 23:54
    assert not hours.is_open(monday_9_local + 15 * 3600)  # Tuesday 00:00
    assert OpeningHours(clinic, "UTC").is_open(monday_9_local + 8 * 3600)  # 09:00 UTC
    assert not OpeningHours(ClinicConfig(), "UTC").ever_open
