"""The district load test, small (issue 20 item 3): desks of agent-encoded events through mosquitto
into two collectors sharing a ``$share`` subscription, into a private PostgreSQL with the rollups
written: nothing lost, nothing stored twice, the rollups equal a rebuild from the raw events.
(The figures in docs/CENTRAL.md come from the full run: ``make bench``, bench_central_ingest.)"""

from __future__ import annotations

import pytest

from tools.district_load import run


@pytest.mark.broker
@pytest.mark.slow
def test_fifty_desks_into_two_shared_collectors_lose_nothing_and_roll_up_right() -> None:
    r = run(desks=50, per_desk=80, rate=4000.0, publishers=2, db=None, timeout=120)
    assert r.events == 4000
    assert r.lost == 0
    assert r.stored_twice == 0
    assert r.rollups_match, r.rollup_differences
    assert r.rollup_events == r.events
    # Both shared the stream; each also got every retained status, one copy of which was new.
    assert all(n > 0 for n in r.collector_received)
    assert sum(r.collector_received) >= r.events + 50
    assert sum(r.collector_duplicates) >= 50


@pytest.mark.broker
@pytest.mark.slow
def test_two_thousand_desks_with_a_collector_killed_and_restarted_lose_nothing() -> None:
    # The second collector is killed 1.5 s into the stream and restarted 3 s later.
    r = run(
        desks=2000, per_desk=3, rate=1500.0, publishers=2, db=None, timeout=120, kill_after_s=1.5
    )
    assert r.events == 6000
    assert r.collectors_killed == 1
    assert r.lost == 0
    assert r.stored_twice == 0
    assert r.rollups_match, r.rollup_differences
    assert r.rollup_events == r.events
    # The survivor took its share; the restarted one got its queued share after coming back.
    assert r.collector_received[0] >= 3000
    assert r.collector_received[1] > 0
