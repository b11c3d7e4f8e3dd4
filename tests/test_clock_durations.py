"""Durations on the monotonic clock everywhere (issue 19, item 2): the outbox's ages and age bound,
a device's outage, an unusable calibration file. Injected clocks: a wall clock the test steps and
a monotonic one that only advances.

A message's age counts on the monotonic clock of the boot it was stored in (the kernel's boot id),
so it survives a restart of the agent; a message from an earlier boot is aged by the wall clock
once, when the outbox opens, clamped (never negative, at most the age bound), then monotonically.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

from agent.config import parse_config
from agent.flow.heartbeat import Heartbeat
from agent.flow.ports import Emit
from agent.flow.threaded import ThreadedSource
from agent.service.pipeline import Pipeline
from agent.thermometer.calibration import Calibration, save_calibration
from agent.thermometer.config import ScreeningConfig
from agent.thermometer.live_calibration import CalibratedScreening
from agent.thermometer.screening import ScreeningAnalyser
from agent.wire.contract import WireMessage
from agent.wire.outbox import Outbox
from agent.wire.outbox_file import boot_id
from tests.conftest import base_config
from tests.test_service_clocks_steps import DAY, HOUR, Clocks, Desk, Probe, of, run

W = 1_795_435_200.0
"""2026-11-23 12:00 UTC."""


class Clock:
    """Wall and monotonic time of one box; ``boot`` changes at a reboot (monotonic from ~0)."""

    def __init__(self) -> None:
        self.wall = W
        self.mono = 500.0
        self.boot = "boot-1"

    def box(self, path: Path, max_age_s: float = 7 * DAY) -> Outbox:
        return Outbox(
            path,
            max_age_s=max_age_s,
            mono=lambda: self.mono,
            wall=lambda: self.wall,
            boot=self.boot,
        )

    def inspect(self, path: Path, max_age_s: float = 7 * DAY) -> float | None:
        clocks = (lambda: self.mono, lambda: self.wall, self.boot)
        return Outbox.inspect(path, max_age_s=max_age_s, clocks=clocks).oldest_age_s

    def wait(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def msg(seq: int) -> WireMessage:
    return WireMessage(f"t/{seq}", b"{}", retain=False)


def test_a_wall_clock_step_moves_no_age(tmp_path: Path) -> None:
    c = Clock()
    box = c.box(tmp_path / "o.sqlite3", max_age_s=2 * DAY)
    box.append(msg)
    c.wait(600)
    c.wall -= HOUR  # NTP steps the clock back an hour
    assert box.oldest_age_s() == pytest.approx(600)
    c.wall += 3 * DAY  # then forward three days: beyond the age bound by the wall clock
    box.evict_expired()
    assert box.depth() == 1
    assert box.evicted() == 0
    assert box.oldest_age_s() == pytest.approx(600)
    assert c.inspect(box.path, 2 * DAY) == pytest.approx(600)  # diag agrees
    assert box.peek()[0].created == W  # the label stays the wall clock's at the time
    c.mono += 2 * DAY  # two days really pass: now it goes
    box.evict_expired()
    assert box.depth() == 0
    assert box.evicted() == 1


def test_a_clock_stepped_back_does_not_keep_a_message_past_the_bound(tmp_path: Path) -> None:
    c = Clock()
    box = c.box(tmp_path / "o.sqlite3", max_age_s=HOUR)
    box.append(msg)
    c.wall -= DAY
    c.mono += HOUR + 1
    box.append(msg)  # each append applies the bounds too
    assert [m.seq for m in box.peek()] == [2]
    assert box.evicted() == 1


def test_ages_carry_across_a_restart_of_the_agent(tmp_path: Path) -> None:
    """Same boot: the monotonic stamps stay valid (CLOCK_MONOTONIC counts from the boot)."""
    c = Clock()
    path = tmp_path / "o.sqlite3"
    a = c.box(path)
    a.append(msg)
    c.wait(300)
    a.close()
    c.wait(60)
    c.wall += DAY  # stepped while the agent was down
    b = c.box(path)
    assert b.oldest_age_s() == pytest.approx(360)
    c.wait(40)
    assert b.oldest_age_s() == pytest.approx(400)
    assert c.inspect(path) == pytest.approx(400)


def test_after_a_reboot_with_the_clock_days_behind_ages_start_at_zero_and_ntp_moves_nothing(
    tmp_path: Path,
) -> None:
    c = Clock()
    path = tmp_path / "o.sqlite3"
    a = c.box(path)
    a.append(msg)
    c.wait(120)
    a.append(msg)
    a.close()
    # reboot: a new boot id, the monotonic clock from ~0, the wall clock 3 days behind
    c.boot, c.mono, c.wall = "boot-2", 20.0, W - 3 * DAY
    assert c.inspect(path) == 0.0  # diag before the agent starts: never negative
    b = c.box(path)
    assert b.oldest_age_s() == 0.0  # never negative
    c.wait(30)
    assert b.oldest_age_s() == pytest.approx(30)
    c.wall = W + 2 * HOUR  # NTP steps the clock to the truth
    c.mono += 1
    assert b.oldest_age_s() == pytest.approx(31)  # no jump of days
    assert c.inspect(path) == pytest.approx(31)
    b.evict_expired()
    assert b.depth() == 2
    assert [m.seq for m in b.peek()] == [1, 2]  # order and labels untouched
    assert [m.created for m in b.peek()] == [W, W + 120]


def test_after_a_reboot_with_a_good_clock_a_week_old_backlog_goes(tmp_path: Path) -> None:
    c = Clock()
    path = tmp_path / "o.sqlite3"
    a = c.box(path, max_age_s=DAY)
    a.append(msg)
    c.wait(HOUR)
    a.append(msg)
    a.close()
    c.boot, c.mono, c.wall = "boot-2", 20.0, W + DAY + HOUR / 2  # off for a day
    b = c.box(path, max_age_s=DAY)
    assert b.oldest_age_s() == pytest.approx(DAY)  # clamped to the bound
    c.mono += 1
    b.evict_expired()
    assert [m.seq for m in b.peek()] == [2]
    assert b.oldest_age_s() == pytest.approx(DAY - HOUR / 2 + 1)


def test_an_outbox_from_before_the_monotonic_stamps_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE messages (seq INTEGER PRIMARY KEY, created REAL NOT NULL, topic TEXT NOT NULL,
            payload BLOB NOT NULL, retain INTEGER NOT NULL, qos INTEGER NOT NULL);
        INSERT INTO meta VALUES ('seq', 7), ('evicted', 2);
        """
    )
    db.execute("INSERT INTO messages VALUES (7, ?, 't/7', x'7b7d', 0, 1)", (W - 90,))
    db.commit()
    db.close()
    c = Clock()
    assert c.inspect(path) == pytest.approx(90)  # read-only, by the wall clock
    box = c.box(path)
    assert box.oldest_age_s() == pytest.approx(90)
    c.wait(10)
    c.wall -= DAY
    assert box.oldest_age_s() == pytest.approx(100)
    assert box.append(msg) == 8
    assert [m.seq for m in box.peek()] == [7, 8]


def test_the_real_clocks_by_default(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.boot == boot_id() != ""
    box.append(msg)
    assert 0.0 <= (box.oldest_age_s() or 0.0) < 5.0
    box.close()
    age = Outbox.inspect(tmp_path / "o.sqlite3").oldest_age_s
    assert age is not None
    assert 0.0 <= age < 5.0


# -- the running service: health.outbox_oldest_s under a step ----------------------------------
def test_health_reports_the_outbox_age_on_the_monotonic_clock(tmp_path: Path) -> None:
    """No broker: everything waits in the outbox, so the oldest message ages with the run."""
    clocks = Clocks(W + 5 * 60)
    cfg = parse_config(base_config(tmp_path, 1883, reporting={"health_interval_s": 60}), environ={})
    p = Pipeline(
        cfg,
        [Probe()],
        [Desk()],
        Outbox(cfg.outbox.path, mono=lambda: clocks.mono, boot="b"),
        publisher=None,
        clock=clocks.time,
        agent_clock=clocks.agent,
    )
    run(p, clocks, 200)
    clocks.step(DAY)
    run(p, clocks, 200)
    clocks.step(-DAY - HOUR)
    run(p, clocks, 200)
    ages = [h["outbox_oldest_s"] for h in of(p, "health")]
    assert ages == [60 * i for i in range(10)]  # every minute a minute older, whatever the steps
    assert p.snapshot()["outbox"]["oldest_s"] == pytest.approx(599)


# -- a device's outage and an unusable calibration file ----------------------------------------
class Device(ThreadedSource):
    def __init__(self) -> None:
        super().__init__("device", Heartbeat("device", 5.0), "device-loop")

    def run(self, emit: Emit) -> None:
        pass


def test_back_after_n_s_is_the_monotonic_outage(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    mono = [100.0]
    wall = [W]
    monkeypatch.setattr(time, "time", lambda: wall[0])
    d = Device()
    d.clock = lambda: mono[0]
    d.went_down()
    mono[0] += 42
    wall[0] -= HOUR  # the clock stepped back meanwhile
    with caplog.at_level(logging.INFO, logger="agent.flow.threaded"):
        d.came_back("device: back")
    assert "device: back after 42 s" in caplog.text


def test_calibration_usable_again_after_n_s_is_monotonic(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "calibration.json"
    path.write_text("{not json")
    wall, mono = [W], [100.0]
    cal = CalibratedScreening(
        ScreeningAnalyser(ScreeningConfig()),
        path,
        0.0,
        clock=lambda: wall[0],
        mono=lambda: mono[0],
    )
    assert cal.problem is not None
    assert cal.problem_since == W
    wall[0] += DAY  # stepped forward a day while the file was broken
    mono[0] += 75
    save_calibration(path, Calibration(offset_c=0.4, at=wall[0], method="manual"))
    with caplog.at_level(logging.WARNING):
        cal.check_file()
    assert f"calibration file {path} usable again after 75 s" in caplog.text
    assert cal.offset_c == 0.4
