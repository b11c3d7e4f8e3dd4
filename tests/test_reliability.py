"""The fault suite: the real ``triage-agent run`` process, a real mosquitto, real faults.

Each scenario counts what a QoS 1 subscriber received (:mod:`tests.reliability`) and prints one
``FIGURES`` line (run with ``-s`` to see it); docs/RELIABILITY.md quotes them. The short versions
run in CI; the long ones are marked ``reliability`` and run with ``make reliability``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.broker import Broker, Collector
from tests.conftest import AgentProcess, base_config, fill, validate_message, write_config
from tests.reliability import tally, wait_status

pytestmark = [pytest.mark.broker, pytest.mark.slow]

STREAM = {"enabled": True, "port": "simulated", "simulated_scenario": "queue"}


def live(c: Collector, kind: str) -> list[dict[str, Any]]:
    return [m.json() for m in c.messages if m.topic.endswith("/" + kind) and not m.retain]


def test_state_directory_full_keeps_sensing_reports_and_resumes(
    tmp_path: Path,
    small_fs: Callable[[str], Path],
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    state = small_fs("4m")
    cfg = base_config(tmp_path, mosquitto.port, thermometer=STREAM)
    cfg["outbox"]["path"] = str(state / "outbox.sqlite3")
    cfg["runtime"]["state_dir"] = str(state)
    sock = Path(cfg["runtime"]["status_socket"])
    c = collector_factory(mosquitto.port, "triage/v1/#")
    agent = agent_process(write_config(tmp_path / "agent.toml", cfg))
    c.wait_for(lambda ms: len(live(c, "temperature")) >= 3, timeout=60)

    filler = fill(state)
    t_full = time.monotonic()
    snap = wait_status(sock, lambda s: s["outbox"]["storage"] == "disk full", timeout=30)
    assert snap["last_error"] == "outbox: disk full"
    direct = c.wait_for(
        lambda ms: any(
            m.topic.endswith("/health") and m.json().get("storage") == "disk full" for m in ms
        ),
        timeout=30,
    )
    for m in direct:
        validate_message(m)
    detected_s = time.monotonic() - t_full
    sensed_before = snap["sources"]["thermometer"]["state"]
    time.sleep(4)  # keep sensing on a full disk
    snap = fetch_status_ok(sock)
    assert agent.proc.poll() is None, agent.output()
    assert snap["outbox"]["kept_in_memory"] > 0
    assert sensed_before == snap["sources"]["thermometer"]["state"] == "ok"

    filler.unlink()
    t_free = time.monotonic()
    wait_status(sock, lambda s: s["outbox"]["storage"] is None, timeout=15)
    recovered_s = time.monotonic() - t_free
    c.wait_for(
        lambda ms: any(
            m.topic.endswith("/health")
            and not m.retain
            and "storage" not in m.json()
            and m.json()["seq"] > max(d["seq"] for d in live(c, "health") if "storage" in d)
            for m in ms
        ),
        timeout=30,
    )
    assert agent.stop() == 0, agent.output()
    out = agent.output()
    assert "disk full" in out
    assert "cannot rollback" not in out
    assert "Traceback" not in out
    t = tally(c.messages)
    print(
        f"FIGURES disk-full: {t.line()}; fault seen in status after {detected_s:.1f} s; "
        f"resumed {recovered_s:.1f} s after space came back"
    )
    assert t.duplicates == 0
    assert recovered_s < 10


def fetch_status_ok(sock: Path) -> dict[str, Any]:
    return wait_status(sock, lambda s: True, timeout=5)
