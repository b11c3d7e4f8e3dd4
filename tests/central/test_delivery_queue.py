"""The delivery queue on SQLite and PostgreSQL against real local receivers: one row per message
per destination, retries with backoff until a receiver that was down comes back (nothing lost,
nothing twice), dead letters after N tries or at once for a permanent refusal, an officer's retry
in the audit trail, and two workers draining one queue without sending anything twice."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import Engine

from central.audit.trail import entries
from central.delivery import queue
from central.delivery.destinations import Destination, check_destination
from central.delivery.message import Message
from central.delivery.send import drain
from tests.central.receivers import HttpReceiver

T0 = 1_780_000_000.0


def msg(n: int | str) -> Message:
    return Message(
        title=f"通报 {n}", markdown=f"**通报 {n}**", text=f"通报 {n}", url=f"https://d/{n}"
    )


def wecom(r: HttpReceiver, key: str = "KEY0001") -> Destination:
    return check_destination("wecom", r.url(f"/wecom/send?key={key}"), "zh_CN", name="group")


def put(
    engine: Engine, dest: Destination, subject: str, now: float = T0, site: str | None = None
) -> bool:
    with engine.begin() as conn:
        return queue.enqueue(
            conn, subject=subject, kind="notice", dest=dest, message=msg(subject), site=site,
            day="2026-12-05", notices=[subject], now=now,
        )  # fmt: skip


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_enqueue_is_idempotent_per_destination(engine: Engine, receiver: HttpReceiver) -> None:
    a, b = wecom(receiver, "A0000001"), wecom(receiver, "B0000001")
    assert put(engine, a, "notice:2026-0001")
    assert not put(engine, a, "notice:2026-0001")
    assert put(engine, b, "notice:2026-0001")
    with engine.connect() as conn:
        assert queue.counts(conn)["queued"] == 2
        shown = {r.shown for r in queue.rows(conn)}
    assert shown == {f"group: wecom 127.0.0.1:{receiver.port} key=…"}
    assert "A0000001" not in repr(shown)
    done = drain(engine, "w1", queue.Policy(), None, clock=Clock())
    assert (done.sent, done.retry, done.dead) == (2, 0, 0)
    assert sorted(h.query["key"] for h in receiver.taken()) == ["A0000001", "B0000001"]
    assert not put(engine, a, "notice:2026-0001")  # already sent: not again
    assert drain(engine, "w1", queue.Policy(), None, clock=Clock()).attempts == 0


def test_receiver_down_then_back(engine: Engine, receiver: HttpReceiver) -> None:
    dest = wecom(receiver)
    for i in range(5):
        put(engine, dest, f"notice:2026-{i:04d}")
    receiver.stop()
    policy = queue.Policy(max_attempts=6, base_s=30, cap_s=600, jitter=0.2)
    clock = Clock()
    first = drain(engine, "w1", policy, None, clock=clock)
    assert (first.sent, first.retry, first.dead) == (0, 5, 0)
    with engine.connect() as conn:
        rows = queue.rows(conn)
    assert {r.state for r in rows} == {"retry"}
    assert all("cannot reach" in (r.last_error or "") for r in rows)
    assert all(T0 + 24 <= r.next_at <= T0 + 36 for r in rows)  # 30 s +/- 20 %
    assert drain(engine, "w1", policy, None, clock=clock).attempts == 0  # not due yet
    clock.now += 37
    second = drain(engine, "w1", policy, None, clock=clock)
    assert second.retry == 5
    with engine.connect() as conn:
        assert all(T0 + 37 + 48 <= r.next_at <= T0 + 37 + 72 for r in queue.rows(conn))  # 60 s
    receiver.start()
    clock.now += 73
    third = drain(engine, "w1", policy, None, clock=clock)
    assert (third.sent, third.retry, third.dead) == (5, 0, 0)
    got = Counter(h.json()["markdown"]["content"] for h in receiver.taken())
    assert got == Counter({f"**通报 notice:2026-{i:04d}**": 1 for i in range(5)})
    with engine.connect() as conn:
        rows = queue.rows(conn)
    assert {(r.state, r.attempts) for r in rows} == {("sent", 3)}
    assert all(r.sent_at == clock.now for r in rows)


def test_dead_after_n_tries_and_an_officers_retry(engine: Engine, receiver: HttpReceiver) -> None:
    receiver.reply = lambda hit: (500, b"{}")
    dest = wecom(receiver)
    put(engine, dest, "notice:2026-0009", site="clinic-a")
    policy = queue.Policy(max_attempts=3, base_s=10, cap_s=20)
    clock = Clock()
    states = []
    for _ in range(4):
        done = drain(engine, "w1", policy, None, clock=clock)
        states.append((done.retry, done.dead))
        clock.now += 25
    assert states == [(1, 0), (1, 0), (0, 1), (0, 0)]
    assert len(receiver.taken()) == 3
    with engine.connect() as conn:
        (row,) = queue.rows(conn, states=["dead"])
    assert (row.attempts, row.last_error) == (3, "HTTP 500 Internal Server Error")
    with engine.begin() as conn, pytest.raises(queue.QueueError, match="no delivery"):
        queue.retry_dead(conn, row.pk, actor="li", role="officer", sites=frozenset({"other"}))
    receiver.reply = lambda hit: (200, b'{"errcode":0,"errmsg":"ok"}')
    with engine.begin() as conn:
        again = queue.retry_dead(conn, row.pk, actor="li", role="officer", now=clock.now)
    assert (again.state, again.attempts) == ("queued", 0)
    with engine.begin() as conn, pytest.raises(queue.QueueError, match="not a dead letter"):
        queue.retry_dead(conn, row.pk, actor="li", role="officer")
    assert drain(engine, "w1", policy, None, clock=clock).sent == 1
    with engine.connect() as conn:
        (entry,) = entries(conn, target_kind="delivery", target_id=str(row.pk))
    assert (entry.actor, entry.role, entry.action, entry.site) == (
        "li", "officer", "delivery.retried", "clinic-a",
    )  # fmt: skip
    assert entry.detail["attempts"] == 3
    assert "KEY0001" not in str(entry.detail)


def test_permanent_refusal_is_dead_at_once(engine: Engine, receiver: HttpReceiver) -> None:
    receiver.reply = lambda hit: (200, b'{"errcode":93000,"errmsg":"invalid webhook url"}')
    put(engine, wecom(receiver), "notice:2026-0010")
    done = drain(engine, "w1", queue.Policy(), None, clock=Clock())
    assert (done.dead, len(receiver.taken())) == (1, 1)
    with engine.connect() as conn:
        (row,) = queue.rows(conn)
    assert row.last_error == "errcode 93000: invalid webhook url"


def test_a_worker_that_died_mid_send_is_taken_over(engine: Engine, receiver: HttpReceiver) -> None:
    put(engine, wecom(receiver), "notice:2026-0011")
    policy = queue.Policy(lease_s=60)
    (c,) = queue.claim(engine, "dead-worker", now=T0)
    assert queue.recover(engine, policy, now=T0 + 30) == 0
    assert queue.recover(engine, policy, now=T0 + 61) == 1
    assert drain(engine, "w2", policy, None, clock=Clock(T0 + 61)).sent == 1
    queue.sent(engine, c, "dead-worker", now=T0 + 62)  # the late worker changes nothing
    with engine.connect() as conn:
        (row,) = queue.rows(conn)
    assert (row.state, row.attempts, row.sent_at) == ("sent", 2, T0 + 61)


def test_two_workers_drain_one_queue_without_sending_twice(
    engine: Engine, receiver: HttpReceiver
) -> None:
    n = 120  # to twelve robots: ten each, within WeCom's 20 a minute (test_delivery_pacing.py)
    with engine.begin() as conn:
        for i in range(n):
            queue.enqueue(
                conn,
                subject=f"notice:2026-{i:04d}",
                kind="notice",
                dest=wecom(receiver, f"R{i % 12:07d}"),
                message=msg(i),
                now=T0,
            )
    results: dict[str, int] = {}

    def work(name: str) -> None:
        results[name] = drain(engine, name, queue.Policy(), None, batch=5, clock=Clock()).sent

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    got = Counter(h.json()["markdown"]["content"] for h in receiver.taken())
    assert len(got) == n
    assert set(got.values()) == {1}
    assert sum(results.values()) == n
    if engine.dialect.name == "postgresql":
        assert min(results.values()) > 0, results  # both workers took rows
    with engine.connect() as conn:
        assert queue.counts(conn)["sent"] == n
