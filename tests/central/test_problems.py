"""A day's problems per clinic by the district's kinds (central/report/problems.py, kinds.py):
fevers are no problem, offline time is "triage point not working", the viewer's scope holds;
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from central.config import ConfigError
from central.i18n import translator
from central.report.kinds import KINDS, kind_label, kind_of, parse_kind
from central.report.problems import count_by_kind, day_problems, flatten, open_now
from central.store.db import open_db
from tests.central.day_script import DAY, TZ, at, store_day


def test_every_alert_of_the_contract_has_a_kind_and_fevers_are_none() -> None:
    assert kind_of("fever") is None
    assert kind_of("desk_unattended") == kind_of("camera_lost") == "not_working"
    assert kind_of("screening_skipped") == kind_of("offline") == "not_working"
    assert kind_of("staff_unmasked") == "staff"
    assert (kind_of("crowding"), kind_of("unmasked")) == ("crowding", "unmasked")
    assert kind_of("queue_long", "occupancy") == "crowding"  # by the box's family
    assert kind_of("new_screening", "screening") is None
    assert kind_of("noise_level") == "other"  # shown, never dropped
    assert [k.key for k in KINDS][:4] == ["not_working", "staff", "crowding", "unmasked"]
    zh = translator("zh_CN")
    assert kind_label("crowding", zh) == "人员聚集"
    assert kind_label("staff", zh) == "医护人员安全防护不到位"
    assert kind_label("unmasked", zh) == "室内患者未戴口罩"
    with pytest.raises(ConfigError, match="not one of not_working"):
        parse_kind("fever")


def test_day_problems_per_clinic(db_url: str) -> None:
    engine = open_db(db_url)
    store_day(engine)
    found = day_problems(engine, DAY, TZ, now=at(18, 0))
    assert sorted(found) == ["clinic-001", "clinic-002"]
    c1 = [(p.desk, p.kind, p.alert, p.start, p.end, p.is_open) for p in found["clinic-001"]]
    assert c1 == [
        ("desk-2", "unmasked", "unmasked", at(17, 0, d=date(2026, 11, 22)), at(8, 20), False),
        ("desk-1", "crowding", "crowding", at(10, 1), at(10, 26), False),
        ("desk-1", "not_working", "offline", at(12, 0), at(12, 30), False),
        ("desk-1", "unmasked", "unmasked", at(16, 30), None, True),
    ]  # the fever at 09:10 is a screening result, not a problem
    crowd = found["clinic-001"][1]
    assert (crowd.duration_s, crowd.value) == (25 * 60, 8)
    assert found["clinic-001"][3].duration_s == 90 * 60  # open: up to now
    assert found["clinic-001"][2].reason == "connection lost"
    c2 = [(p.desk, p.kind, p.alert, p.zone, p.is_open) for p in found["clinic-002"]]
    assert c2 == [
        ("desk-1", "not_working", "camera_covered", None, False),
        ("desk-1", "staff", "staff_unmasked", "desk", True),
        ("desk-1", "not_working", "offline", None, True),  # stopped at 17:00, not back
    ]
    assert found["clinic-002"][2].reason == "stopped"
    assert count_by_kind(flatten(found)) == {"unmasked": 2, "crowding": 1, "not_working": 3,
                                             "staff": 1}  # fmt: skip
    # The viewer's scope: only their clinics are read.
    only = day_problems(engine, DAY, TZ, sites=frozenset({"clinic-002"}), now=at(18, 0))
    assert list(only) == ["clinic-002"]
    assert day_problems(engine, DAY, TZ, sites=frozenset(), now=at(18, 0)) == {}
    # A day with nothing: no clinic.
    assert day_problems(engine, date(2026, 11, 20), TZ, now=at(18, 0)) == {}


def test_open_now(db_url: str) -> None:
    engine = open_db(db_url)
    store_day(engine)
    found = open_now(engine, at(18, 0))
    assert {s: [(p.desk, p.alert) for p in ps] for s, ps in found.items()} == {
        "clinic-001": [("desk-1", "unmasked")],
        "clinic-002": [("desk-1", "staff_unmasked"), ("desk-1", "offline")],
    }
    # At 08:00 yesterday's problem at desk-2 was still open (put right at 08:20).
    early = open_now(engine, at(8, 0), sites=frozenset({"clinic-001"}))
    assert [(p.desk, p.alert) for p in early["clinic-001"]] == [("desk-2", "unmasked")]


def test_a_value_of_zero_is_kept() -> None:
    """A raise whose value is 0 keeps it (it was replaced by the clear's, or blank, by an ``or``)."""
    from central.report.daily import problems as pair
    from central.report.days import day_window
    from central.store.reader import Stored

    def ev(state: str, ts: float, value: float) -> Stored:
        return Stored("c", "d", "alert", 1, ts, ts, "crowding", state, "z1",
                      {"value": value, "alert": "crowding"})  # fmt: skip

    got = pair([ev("raised", at(10, 0), 0), ev("cleared", at(10, 5), 7)], day_window(DAY, TZ))
    assert [p.value for p in got] == [0]


def test_a_mask_worn_wrong_is_its_own_words_in_the_same_kind() -> None:
    """A mask alert raised for a mask worn wrong (its ``cause``) reads as such, in the kind of the
    alert; a cause the contract does not know is ignored (box input is untrusted)."""
    from central.report.daily import problems as pair
    from central.report.days import day_window
    from central.report.problems import DayProblem
    from central.report.words import problem_what
    from central.store.reader import Stored

    def raised(alert_id: str, alert: str, cause: object) -> Stored:
        return Stored("c", "d", "alert", 1, at(10, 0), at(10, 0), alert, "raised", alert_id,
                      {"alert": alert, "cause": cause})  # fmt: skip

    got = pair(
        [
            raised("a1", "unmasked", "worn_wrong"),
            raised("a2", "staff_unmasked", "worn_wrong"),
            raised("a3", "unmasked", "no_mask"),
            raised("a4", "unmasked", "<script>"),
            raised("a5", "crowding", "worn_wrong"),
        ],
        day_window(DAY, TZ),
    )
    by_id = {p.alert_id: p for p in got}
    assert [by_id[a].cause for a in ("a1", "a2", "a3", "a4")] == [
        "worn_wrong",
        "worn_wrong",
        "no_mask",
        None,
    ]
    assert by_id["a1"].label == "Patient wearing a mask incorrectly"
    assert by_id["a3"].label == by_id["a4"].label == "Patient without a mask"
    assert by_id["a5"].label == "Crowding"  # a cause means nothing on other alerts
    zh = translator("zh_CN")

    def words(alert: str, cause: str | None) -> tuple[str | None, str]:
        p = DayProblem("c", "d", kind_of(alert) or "", alert, "x", at(10, 0), None, 60.0,
                       cause=cause)  # fmt: skip
        return p.kind, problem_what(p, zh)

    assert words("unmasked", "worn_wrong") == ("unmasked", "患者口罩佩戴不规范")
    assert words("staff_unmasked", "worn_wrong") == ("staff", "医护人员口罩佩戴不规范")
    assert words("unmasked", "no_mask") == ("unmasked", "患者未戴口罩")
