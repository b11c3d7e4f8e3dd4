"""The summary tally: periods of the clinic's clock, problem minutes, resuming after a stop."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from agent.flow.events import AlertEvent, AlertType, SummaryEvent, TemperatureEvent
from agent.flow.summary import ClinicClock, SummaryTally

KTM = "Asia/Kathmandu"  # UTC+05:45: local quarter hours are not UTC quarter hours


def local(tz: str, *args: int) -> float:
    return datetime(*args, tzinfo=ZoneInfo(tz)).timestamp()  # type: ignore[arg-type,misc]


def temp(at: float, result: str) -> TemperatureEvent:
    return TemperatureEvent(at, result, 36.0, 24.0, 36.0, 37.3, 1.0, 9)  # type: ignore[arg-type]


def alert(at: float, name: AlertType, state: str, alert_id: str) -> AlertEvent:
    return AlertEvent(at, name, state, alert_id, "m")  # type: ignore[arg-type]


def drain(tally: SummaryTally, now: float) -> list[SummaryEvent]:
    out = []
    while (s := tally.due(now)) is not None:
        out.append(s)
    return out


def test_periods_follow_the_local_clock() -> None:
    clock = ClinicClock(KTM, 900)
    t = local(KTM, 2026, 11, 23, 10, 7, 30)
    start, end, date = clock.slot(t)
    assert (start, end, date) == (
        local(KTM, 2026, 11, 23, 10, 0),
        local(KTM, 2026, 11, 23, 10, 15),
        "2026-11-23",
    )
    assert clock.hhmm(start) == "10:00"
    d0, d1, _ = clock.day(t)
    assert (d0, d1) == (local(KTM, 2026, 11, 23), local(KTM, 2026, 11, 24))


def test_a_daylight_saving_day_lasts_25_hours_and_stays_aligned() -> None:
    berlin = ClinicClock("Europe/Berlin", 900)
    d0, d1, date = berlin.day(local("Europe/Berlin", 2026, 10, 25, 12))
    assert (d1 - d0, date) == (25 * 3600, "2026-10-25")
    start, _, _ = berlin.slot(local("Europe/Berlin", 2026, 10, 25, 14, 20))
    assert berlin.hhmm(start) == "14:15"


def test_counts_close_on_clock_boundaries_and_at_midnight() -> None:
    t0 = local(KTM, 2026, 11, 23, 23, 40)
    tally = SummaryTally(900, KTM, t0)
    tally.record(temp(t0 + 60, "normal"))
    tally.record(temp(t0 + 61, "fever"))
    tally.record(temp(t0 + 62, "invalid"))
    assert drain(tally, t0 + 299) == []
    quarter = drain(tally, local(KTM, 2026, 11, 23, 23, 45))
    assert [(s.period, s.start, s.window_s) for s in quarter] == [("15min", "23:30", 900.0)]
    assert (quarter[0].screened, quarter[0].fevers, quarter[0].invalid) == (2, 1, 1)
    tally.record(temp(local(KTM, 2026, 11, 23, 23, 50), "normal"))
    closing = drain(tally, local(KTM, 2026, 11, 24, 0, 0, 1))
    assert [(s.period, s.date, s.start) for s in closing] == [
        ("15min", "2026-11-23", "23:45"),
        ("day", "2026-11-23", "00:00"),
    ]
    day = closing[1]
    assert (day.at, day.window_s, day.screened, day.invalid) == (
        local(KTM, 2026, 11, 24),
        86400.0,
        3,
        1,
    )
    assert (closing[0].screened, closing[0].at) == (1, local(KTM, 2026, 11, 24))


def test_problem_minutes_are_the_union_of_open_alerts_split_at_period_ends() -> None:
    t0 = local("UTC", 2026, 11, 23, 9, 0)
    tally = SummaryTally(900, "UTC", t0)
    closed: list[SummaryEvent] = []
    for event in [
        alert(t0 + 100, "camera_covered", "raised", "c1"),
        alert(t0 + 120, "desk_unattended", "raised", "d1"),
        alert(t0 + 130, "camera_dark", "raised", "c2"),
        alert(t0 + 160, "camera_covered", "cleared", "c1"),
        alert(t0 + 190, "camera_dark", "cleared", "c2"),  # 90 s of setup problems (union)
        alert(t0 + 200, "fever", "raised", "f1"),  # counted, not timed
        alert(t0 + 420, "desk_unattended", "cleared", "d1"),  # 5 minutes
        alert(t0 + 600, "crowding", "raised", "a1"),  # zone A 09:10
        alert(t0 + 660, "crowding", "raised", "b1"),  # zone B 09:11 (overlaps)
        alert(t0 + 1200, "crowding", "cleared", "a1"),
        alert(t0 + 1260, "crowding", "cleared", "b1"),  # 09:21: 11 minutes in all
    ]:
        closed += drain(tally, event.at)  # as the service does before storing an event
        tally.record(event)
    closed += drain(tally, t0 + 1800)
    first, second = closed
    assert first.minutes == {"desk": 5.0, "crowding": 5.0, "setup": 1.5, "offline": 0.0}
    assert second.minutes == {"desk": 0.0, "crowding": 6.0, "setup": 0.0, "offline": 0.0}
    assert first.alerts == {"crowding": 2, "fever": 1}  # setup alerts are minutes, not counts
    day = drain(tally, local("UTC", 2026, 11, 24))[-1]
    assert day.minutes == {"desk": 5.0, "crowding": 11.0, "setup": 1.5, "offline": 0.0}


def test_a_restart_mid_period_keeps_its_counts_and_reports_the_gap_offline() -> None:
    t0 = local("UTC", 2026, 11, 23, 10, 1)
    before = SummaryTally(900, "UTC", t0)
    before.record(temp(t0 + 10, "normal"))
    before.record(alert(t0 + 20, "camera_covered", "raised", "c1"))
    before.alive(t0 + 120)  # last stamp saved: 10:03; power cut
    after = SummaryTally.resume(900, "UTC", t0 + 360, before.to_state())  # back at 10:07
    after.record(temp(t0 + 400, "fever"))
    after.record(alert(t0 + 420, "camera_covered", "cleared", "c1"))  # 10:08
    (quarter,) = drain(after, local("UTC", 2026, 11, 23, 10, 15))
    assert (quarter.screened, quarter.fevers, quarter.start) == (2, 1, "10:00")
    # covered 10:01:20-10:03 before the cut and 10:07-10:08 after it: the gap is offline only
    assert quarter.minutes == {"desk": 0.0, "crowding": 0.0, "setup": 2.7, "offline": 4.0}


def test_mask_alerts_for_a_mask_worn_wrong_are_counted_apart_and_survive_a_restart() -> None:
    t0 = local("UTC", 2026, 11, 23, 10, 1)
    before = SummaryTally(900, "UTC", t0)
    worn = AlertEvent(t0 + 10, "unmasked", "raised", "a1", "m", cause="worn_wrong")
    before.record(worn)
    before.record(AlertEvent(t0 + 20, "staff_unmasked", "raised", "a2", "m", cause="worn_wrong"))
    before.record(AlertEvent(t0 + 30, "unmasked", "raised", "a3", "m", cause="no_mask"))
    before.record(AlertEvent(t0 + 40, "unmasked", "cleared", "a1", "m"))
    after = SummaryTally.resume(900, "UTC", t0 + 60, before.to_state())
    (quarter,) = drain(after, local("UTC", 2026, 11, 23, 10, 15))
    assert (quarter.mask_violations, quarter.masks_worn_wrong) == (2, 2)
    assert quarter.alerts == {"staff_unmasked": 1, "unmasked": 2}


def test_periods_ended_during_an_outage_are_reported_with_their_true_bounds() -> None:
    t0 = local("UTC", 2026, 11, 23, 17, 50)
    before = SummaryTally(900, "UTC", t0)
    before.record(temp(t0 + 60, "normal"))
    before.alive(t0 + 300)  # 17:55, then off until 08:20 the next day
    back = local("UTC", 2026, 11, 24, 8, 20)
    after = SummaryTally.resume(900, "UTC", back, before.to_state())
    missed = drain(after, back)
    assert [(s.period, s.date, s.start, s.at) for s in missed] == [
        ("15min", "2026-11-23", "17:45", local("UTC", 2026, 11, 23, 18)),
        ("day", "2026-11-23", "00:00", local("UTC", 2026, 11, 24)),
    ]
    assert missed[0].screened == missed[1].screened == 1
    assert (missed[0].minutes or {}).get("offline") == 5.0
    assert (missed[1].minutes or {}).get("offline") == 365.0  # 17:55-24:00
    after.record(temp(back + 1, "normal"))
    (quarter,) = drain(after, local("UTC", 2026, 11, 24, 8, 30))
    assert (quarter.minutes or {}).get("offline") == 5.0  # 08:15-08:20
    assert quarter.screened == 1
    day = drain(after, local("UTC", 2026, 11, 25))[-1]
    assert (day.minutes or {}).get("offline") == 500.0  # 00:00-08:20
    assert day.screened == 1


def test_undo_returns_to_a_saved_state() -> None:
    t0 = local("UTC", 2026, 11, 23, 10, 1)
    tally = SummaryTally(900, "UTC", t0)
    saved = tally.to_state()
    tally.record(temp(t0 + 1, "normal"))
    tally.load(saved)
    (quarter,) = drain(tally, t0 + 900)
    assert quarter.screened == 0
