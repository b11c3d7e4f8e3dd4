"""The district load test, small: 2,000 desks through mosquitto into two collectors sharing a
``$share`` subscription, into a private PostgreSQL: nothing lost, nothing stored twice.
(The figures in docs/CENTRAL.md come from the full run: ``python -m tools.district_load``.)"""

from __future__ import annotations

import pytest

from tools.district_load import run


@pytest.mark.broker
@pytest.mark.slow
def test_two_thousand_desks_into_two_shared_collectors_lose_nothing() -> None:
    r = run(desks=2000, per_desk=3, rate=3000.0, publishers=2, db=None, timeout=120)
    assert r.events == 6000
    assert r.lost == 0
    assert r.stored_twice == 0
    # Both collectors took a share; together they received every event (status aside: none here).
    assert min(r.collector_received) > 1000
    assert sum(r.collector_received) == 6000
