"""The summary tally's persistence (agent/service/tally_store.py): kept in the outbox's database in
the same transaction as the event that changed it, so a power cut mid-period neither loses nor
repeats counts, and the minutes offline run from the last stamp to the restart.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent.flow.events import TemperatureEvent
from tests.test_pipeline import T0, make_pipeline


def test_a_power_cut_mid_period_neither_loses_nor_repeats_counts(tmp_path: Path) -> None:
    now = [T0]
    p, _ = make_pipeline(tmp_path, clock=lambda: now[0], reporting={"summary_interval_s": 900})
    p.store(TemperatureEvent(T0, "normal", 36.5, 24.0, 36.5, 37.3, 1, 9))
    p.tick(T0 + 1)
    p.store(TemperatureEvent(T0 + 2, "fever", 38.5, 24.0, 38.5, 37.3, 1, 9))
    p.outbox.close()  # power cut: no shutdown, no final save
    now[0] = T0 + 600  # back at 12:10:01
    q, _ = make_pipeline(tmp_path, clock=lambda: now[0], reporting={"summary_interval_s": 900})
    q.store(TemperatureEvent(T0 + 601, "normal", 36.5, 24.0, 36.5, 37.3, 1, 9))
    q.tick(T0 + 900)  # 12:15:01
    docs = [json.loads(m.message.payload) for m in q.outbox.peek(limit=50)]
    (summary,) = [d for d in docs if d["kind"] == "summary"]
    assert (summary["start"], summary["screened"], summary["fevers"]) == ("12:00", 3, 1)
    assert (
        summary["minutes"]["offline"] == 10.0
    )  # last stamp at 12:00:02 (the fever), back 12:10:01
    q.outbox.close()
    r, _ = make_pipeline(tmp_path, clock=lambda: T0 + 901, reporting={"summary_interval_s": 900})
    r.tick(T0 + 902)
    docs = [json.loads(m.message.payload) for m in r.outbox.peek(limit=50)]
    assert len([d for d in docs if d["kind"] == "summary"]) == 1  # not repeated after a restart
