"""The zone map (agent/zones/map.py): which configured zone a point is in, the staff zone first."""

from __future__ import annotations

from agent.config import parse_config
from agent.zones.map import ZoneMap

DESK = {"name": "desk", "role": "staff", "polygon": [[0.5, 0], [1, 0], [1, 0.6], [0.5, 0.6]]}
QUEUE = {"name": "queue", "role": "queue", "polygon": [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]}


def test_staff_zone_wins_and_points_outside_every_zone() -> None:
    cfg = parse_config(
        {"zones": [{**QUEUE, "role": "waiting", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}, DESK]}
    )
    zones = ZoneMap(cfg.zones)
    desk = zones.locate((0.8, 0.3))
    assert desk is not None
    assert desk.name == "desk"
    assert not zones.implicit
    assert zones.has_staff
    only_desk = ZoneMap(parse_config({"zones": [DESK]}).zones)
    assert only_desk.locate((0.1, 0.9)) is None
