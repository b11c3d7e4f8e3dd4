"""The service's stages (agent/service/stages.py): the lost-source watcher watches only the enabled
devices, within the clinic's hours in the box's time zone, and nothing is built without sources.
The same watcher end to end: tests/test_service_lost_alerts.py.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from agent.config import AgentConfig
from agent.flow.lost import SourceLostAnalyser
from agent.service.stages import build_stages, lost_alerts
from agent.zones.config import ClinicConfig


def test_only_enabled_devices_are_watched_and_hours_apply() -> None:
    cfg = AgentConfig.model_validate(
        {
            "thermometer": {"enabled": False},
            "camera": {"enabled": True, "source": "simulated"},
            "device": {"timezone": "Africa/Nairobi"},
            "clinic": {"mon": ["08:00-12:00"]},
        }
    )
    _, analysers = build_stages(cfg)
    watcher = next(a for a in analysers if isinstance(a, SourceLostAnalyser))
    assert [w.alert for w in watcher.watched] == ["camera_lost"]
    tz = ZoneInfo("Africa/Nairobi")
    assert not watcher.is_open(datetime(2026, 11, 22, 10, 0, tzinfo=tz).timestamp())  # Sunday
    assert watcher.is_open(datetime(2026, 11, 23, 10, 0, tzinfo=tz).timestamp())  # Monday
    no_hours = cfg.model_copy(update={"clinic": ClinicConfig()})
    assert lost_alerts(no_hours, []) is None, "nothing to watch without sources"
    off = AgentConfig.model_validate(
        {"thermometer": {"enabled": False}, "camera": {"enabled": False}}
    )
    assert build_stages(off) == ([], [])
