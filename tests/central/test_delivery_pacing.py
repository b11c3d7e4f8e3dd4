"""Pacing the chat robots (central/delivery/pacing.py) on SQLite and PostgreSQL against a real local
receiver: one robot gets at most its service's documented number of messages a minute (the rest
wait, their tries not counted), a refusal as too fast holds that robot for the service's cool-down
while other robots keep receiving, Feishu's five a second, and e-mail is never paced."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from central.delivery import pacing, queue
from central.delivery.destinations import check_destination
from central.delivery.send import drain
from tests.central.receivers import Hit, HttpReceiver, ok_reply
from tests.central.test_delivery_queue import T0, Clock, put, wecom


def _states(engine: Engine) -> dict[str, tuple[str, int]]:
    with engine.connect() as conn:
        return {r.subject: (r.state, r.attempts) for r in queue.rows(conn, limit=1000)}


def test_a_wecom_robot_gets_twenty_a_minute_and_the_rest_wait_untried(
    engine: Engine, receiver: HttpReceiver
) -> None:
    dest = wecom(receiver)
    for i in range(25):
        put(engine, dest, f"notice:2026-{i:04d}")
    clock = Clock()
    first = drain(engine, "w1", queue.Policy(), None, clock=clock)
    assert (first.sent, first.paced, first.retry, first.dead) == (20, 5, 0, 0)
    assert len(receiver.taken()) == 20
    with engine.connect() as conn:
        waiting = [r for r in queue.rows(conn, limit=1000) if r.state != "sent"]
    assert len(waiting) == 5
    assert {(r.state, r.attempts, r.next_at) for r in waiting} == {("queued", 0, T0 + 60)}
    assert all((r.last_error or "").startswith("paced") for r in waiting)
    clock.now += 30
    assert drain(engine, "w1", queue.Policy(), None, clock=clock).attempts == 0  # not due yet
    clock.now += 30
    second = drain(engine, "w1", queue.Policy(), None, clock=clock)
    assert (second.sent, second.paced) == (5, 0)
    assert set(_states(engine).values()) == {("sent", 1)}
    assert len(receiver.taken()) == 25


def test_a_refusal_as_too_fast_holds_that_robot_only(
    engine: Engine, receiver: HttpReceiver
) -> None:
    throttled, other = wecom(receiver, "HOT00001"), wecom(receiver, "COOL0001")
    calls = {"HOT00001": 0}

    def reply(hit: Hit) -> tuple[int, bytes]:
        if hit.query.get("key") == "HOT00001":
            calls["HOT00001"] += 1
            if calls["HOT00001"] >= 3:  # another sender used up the robot's minute
                return 200, json.dumps(
                    {"errcode": 45009, "errmsg": "api freq out of limit"}
                ).encode()
        return ok_reply(hit)

    receiver.reply = reply
    for i in range(6):
        put(engine, throttled, f"notice:hot-{i}")
        put(engine, other, f"notice:cool-{i}")
    clock = Clock()
    done = drain(engine, "w1", queue.Policy(base_s=30), None, clock=clock)
    assert (done.sent, done.retry, done.paced, done.dead) == (8, 1, 3, 0)
    assert calls["HOT00001"] == 3  # nothing more was sent to it after the refusal
    states = _states(engine)
    assert {states[f"notice:cool-{i}"] for i in range(6)} == {("sent", 1)}
    hot = sorted(states[f"notice:hot-{i}"] for i in range(6))
    assert hot == [("queued", 0)] * 3 + [("retry", 1)] + [("sent", 1)] * 2
    with engine.connect() as conn:
        rows = [r for r in queue.rows(conn, limit=1000) if r.state in ("retry", "queued")]
    assert all(r.next_at >= T0 + pacing.COOL_DOWN_S["wecom"] for r in rows)
    assert any("45009" in (r.last_error or "") for r in rows)
    receiver.reply = ok_reply
    clock.now += pacing.COOL_DOWN_S["wecom"] + 30 * 1.2
    later = drain(engine, "w1", queue.Policy(base_s=30), None, clock=clock)
    assert (later.sent, later.retry, later.dead) == (4, 0, 0)
    assert set(_states(engine).values()) == {("sent", 1), ("sent", 2)}


def test_dingtalk_throttling_waits_its_ten_minutes(engine: Engine, receiver: HttpReceiver) -> None:
    receiver.reply = lambda hit: (
        200,
        json.dumps(
            {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        ).encode(),
    )
    dest = check_destination(
        "dingtalk", receiver.url("/dingtalk/robot/send?access_token=T0000001"), "zh_CN"
    )
    put(engine, dest, "notice:2026-0001")
    done = drain(engine, "w1", queue.Policy(base_s=30), None, clock=Clock())
    assert done.retry == 1
    with engine.connect() as conn:
        (row,) = queue.rows(conn)
    assert row.next_at >= T0 + 600


def test_feishu_five_a_second(engine: Engine, receiver: HttpReceiver) -> None:
    dest = check_destination(
        "feishu", receiver.url("/feishu/open-apis/bot/v2/hook/H0000000000000001"), "zh_CN"
    )
    for i in range(7):
        put(engine, dest, f"notice:2026-{i:04d}")
    clock = Clock()
    first = drain(engine, "w1", queue.Policy(), None, clock=clock)
    assert (first.sent, first.paced) == (5, 2)
    clock.now += 1.0
    assert drain(engine, "w1", queue.Policy(), None, clock=clock).sent == 2


def test_email_is_not_paced(engine: Engine) -> None:
    dest = check_destination("email", "clinic@district.example", "zh_CN")
    for i in range(30):
        put(engine, dest, f"notice:2026-{i:04d}")
    assert "email" not in pacing.LIMITS
    done = drain(
        engine, "w1", queue.Policy(), None, clock=Clock()
    )  # no relay: all fail, none paced
    assert (done.paced, done.retry) == (0, 30)


def test_two_workers_at_once_keep_the_robot_within_its_minute(
    engine: Engine, receiver: HttpReceiver
) -> None:
    """Two workers drain one robot's notices at the same moment, each send taking a while (the
    service's round trip): together they send no more than the service allows."""

    def slow(hit: Hit) -> tuple[int, bytes]:
        time.sleep(0.05)
        return ok_reply(hit)

    receiver.reply = slow
    dest = wecom(receiver)
    for i in range(30):
        put(engine, dest, f"notice:2026-{i:04d}")
    clock = Clock()
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(
            lambda w: drain(engine, w, queue.Policy(), None, batch=4, clock=clock), ("w1", "w2")
        ))  # fmt: skip
    assert len(receiver.taken()) == 20
    assert sum(r.sent for r in runs) == 20
    assert sum(r.paced for r in runs) == 10
    assert all(r.sent > 0 for r in runs)  # both worked
