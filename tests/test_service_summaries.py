"""The summaries in the running service (agent/service/summaries.py) after a boot without a clock
battery: nothing closed while the clock is not synchronised, then yesterday's open period and day
and this morning's first period, each at its true time, once NTP corrects the clock (issue 19,
item 2). Injected clocks drive the real pipeline, as in tests/test_service_clocks_steps.py.
"""

from __future__ import annotations

from pathlib import Path

from tests.test_service_clocks_steps import DAY, HOUR, Clocks, D, box, keys, last_seq, of, run


def test_boot_days_behind_then_ntp_corrects(tmp_path: Path) -> None:
    """Yesterday's run stopped at 17:55; the box boots next morning at 08:00 with its clock at
    17:55:05 (fake-hwclock), NTP steps it 10 min later."""
    yesterday = Clocks(D + 17 * HOUR + 40 * 60)
    a = box(tmp_path, yesterday, ["synced"])
    run(a, yesterday, 900)  # 17:40-17:55: 15 results
    early = of(a, "summary")
    seen = last_seq(a)
    a.shutdown()
    assert keys(early) == [("15min", "2026-11-23", "17:30")]
    a_counts = 15 - early[0]["screened"]  # in 17:45-17:55, still open at the stop
    boot = Clocks(D + 17 * HOUR + 55 * 60 + 5)
    state = ["unsynced"]
    b = box(tmp_path, boot, state)
    run(b, boot, 600)  # 10 min under the wrong clock
    waiting = of(b, "summary", seen)
    assert waiting == []  # nothing closed under an unsynchronised clock
    assert of(b, "health")[-1]["clock"] == "unsynced"
    assert b.snapshot()["clock"]["summaries"] == "waiting for a synchronised clock"
    true_now = D + DAY + 8 * HOUR + 10 * 60
    boot.step(true_now - boot.wall)  # NTP: 17:05:05 -> next day 08:10
    state[0] = "synced"
    run(b, boot, 600)  # to 08:20
    summaries = of(b, "summary", seen)
    assert keys(summaries) == [
        ("15min", "2026-11-23", "17:45"),  # yesterday's open period, closed at its true end
        ("day", "2026-11-23", "00:00"),
        ("15min", "2026-11-24", "08:00"),  # this morning's first 15 min
    ]
    assert summaries[0]["screened"] == a_counts  # not this morning's results
    assert summaries[1]["screened"] == 15
    assert summaries[1]["minutes"]["offline"] == 365.0  # 17:55 to midnight: the true restart
    assert summaries[2]["screened"] == 15  # 08:00-08:15 in true time: 10 unsynced + 5 after
    assert "clock" not in of(b, "health")[-1]
    b.shutdown()
