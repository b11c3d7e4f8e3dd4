"""District ingest (issue 20 item 3): 2,000 desks at the clinic-day mix, compressed in time, through
a private mosquitto into two collectors sharing ``$share/district/...`` and a private PostgreSQL
(fsync on), with the rollups written (tools/district_load.py).

Two runs:

- ``steady``: 2,000 desks x 60 events (120,000), offered as fast as the publishers go. Figures:
  events/s from the first publish to the last commit (``events_per_s``), lost (distinct ids
  acknowledged by the broker, not stored), stored twice, rollups equal to a rebuild from the raw
  events, each collector's peak RSS and CPU, and the CPU of the publishers, broker and PostgreSQL
  (all on this machine).
- ``kill``: 2,000 desks x 20 events, the second collector SIGKILLed 2 s in and restarted 3 s
  later: lost and stored twice.

``BENCH_SMOKE=1``: 500 desks, fewer events.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from tools.district_load import run

DESKS = 2000
STEADY_PER_DESK = 60
KILL_PER_DESK = 20
RATE = 40_000.0
"""Offered events/s: more than the publishers reach on this machine, so they go flat out."""


def _figures(r: Any) -> dict[str, Any]:
    out = asdict(r)
    out.pop("progress", None)
    return out


def main() -> dict[str, object]:
    smoke = os.environ.get("BENCH_SMOKE") == "1"
    desks = 500 if smoke else DESKS
    steady = run(
        desks=desks,
        per_desk=20 if smoke else STEADY_PER_DESK,
        rate=RATE,
        publishers=4,
        db=None,
        timeout=300,
    )
    kill = run(
        desks=desks,
        per_desk=10 if smoke else KILL_PER_DESK,
        rate=RATE / 4,
        publishers=2,
        db=None,
        timeout=300,
        kill_after_s=2.0,
    )
    return {
        "events_per_s": steady.events_per_s,
        "steady_events_per_s": steady.steady_events_per_s,
        "lost": steady.lost + kill.lost,
        "duplicates": steady.stored_twice + kill.stored_twice,
        "rollups_match": steady.rollups_match
        and kill.rollups_match
        and steady.rollup_events == steady.events
        and kill.rollup_events == kill.events,
        "collector_rss_mb": max(steady.collector_peak_rss_mib + kill.collector_peak_rss_mib),
        "collector_cpu_us_per_event": round(sum(steady.collector_cpu_s) / steady.events * 1e6, 1),
        "steady": _figures(steady),
        "kill": _figures(kill),
    }


if __name__ == "__main__":
    print(main())
