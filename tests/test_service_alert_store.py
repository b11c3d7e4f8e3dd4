"""The open alerts kept in the state directory (agent/service/alert_store.py): the service wires
every analyser's alert latches to them at start, carrying them on or clearing them after the grace."""

from __future__ import annotations

from pathlib import Path

from agent.config import AgentConfig
from agent.flow.alerts import AlertBook, OpenAlert
from agent.flow.events import AlertEvent
from agent.flow.lost import SourceLostAnalyser
from agent.service.alert_store import AlertFile
from agent.service.stages import build_stages_keeping_alerts

T0 = 1_795_435_200.0


def test_alerts_open_at_the_stop_are_carried_on_or_cleared_after_the_grace(tmp_path: Path) -> None:
    AlertFile.in_state_dir(tmp_path).save(
        [
            OpenAlert("thermometer_lost", None, "a" * 32, T0 - 600, T0 - 530),
            OpenAlert("crowding", "queue", "b" * 32, T0 - 300, T0 - 270),  # camera now disabled
        ]
    )
    cfg = AgentConfig.model_validate(
        {
            "thermometer": {"enabled": True, "port": "simulated"},
            "camera": {"enabled": False},
            "runtime": {"state_dir": str(tmp_path)},
            "reporting": {"restored_alert_grace_s": 60},
        }
    )
    sources, analysers = build_stages_keeping_alerts(cfg, T0)
    assert [s.name for s in sources] == ["thermometer"]
    book = analysers[-1]
    assert isinstance(book, AlertBook)
    lost = next(a for a in analysers if isinstance(a, SourceLostAnalyser))
    latch = lost.latches["thermometer_lost"]
    assert latch.active is not None
    assert latch.active.alert_id == "a" * 32
    assert lost.tick(T0 + 1) == []  # still no data from the thermometer: kept, not raised again
    cleared = book.tick(T0 + 60)
    assert [
        (e.alert, e.state, e.alert_id, e.zone) for e in cleared if isinstance(e, AlertEvent)
    ] == [("crowding", "cleared", "b" * 32, "queue")]
    assert [a.alert for a in AlertFile.in_state_dir(tmp_path).load()] == ["thermometer_lost"]
