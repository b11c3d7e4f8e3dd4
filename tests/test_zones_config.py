"""``[[zones]]`` and ``[clinic]`` config: every bad zone is a config error naming it (exit 78)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from agent.config import EX_CONFIG, ConfigError, parse_config
from agent.zones.config import MAX_ZONES
from agent.zones.map import ZoneMap

REPO = Path(__file__).resolve().parent.parent
DESK = {"name": "desk", "role": "staff", "polygon": [[0.5, 0], [1, 0], [1, 0.6], [0.5, 0.6]]}
QUEUE = {"name": "queue", "role": "queue", "polygon": [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]}


def zones_error(*zones: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config({"zones": list(zones)}, "c.toml")
    return str(err.value)


def test_good_zones_and_the_default() -> None:
    cfg = parse_config({"zones": [DESK, QUEUE]})
    assert [z.name for z in cfg.zones] == ["desk", "queue"]
    assert parse_config({}).zones == []
    whole = ZoneMap(parse_config({}).zones)
    assert whole.implicit
    assert whole.zones[0].role == "waiting"
    assert whole.locate((0.99, 0.99)) is whole.zones[0]


@pytest.mark.parametrize(
    ("polygon", "says"),
    [
        ([[0, 0], [1, 0]], "polygon has 2 point(s), needs at least 3"),
        ([[0, 0], [1.2, 0], [1, 1]], "point 1 [1.2, 0.0] is outside the picture"),
        ([[0, 0], [1, 1], [1, 0], [0, 1]], "self-intersecting"),
        ([[0, 0], [0.5, 0.5], [1, 1]], "self-intersecting"),
        ([[0, 0], [0.001, 0], [0.001, 0.001]], "no area"),
    ],
)
def test_bad_polygon_names_the_zone(polygon: list[list[float]], says: str) -> None:
    text = zones_error({"name": "desk", "role": "staff", "polygon": polygon})
    assert "zone 'desk'" in text
    assert says in text


def test_duplicate_names_overlap_and_count_are_refused() -> None:
    assert "zone 'desk' is declared twice" in zones_error(DESK, {**QUEUE, "name": "desk"})
    overlapping = {**QUEUE, "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}
    text = zones_error(DESK, overlapping)
    assert "zone 'desk' (staff) overlaps zone 'queue' (queue)" in text
    waiting = {**overlapping, "name": "hall", "role": "waiting"}
    assert parse_config({"zones": [DESK, waiting]}).zones[1].name == "hall"  # may overlap
    many = [
        {"name": f"z{i}", "role": "waiting", "polygon": [[0, 0], [1, 0], [1, 1]]}
        for i in range(MAX_ZONES + 1)
    ]
    assert f"at most {MAX_ZONES} allowed" in zones_error(*many)


def test_bad_name_and_type_errors_name_the_zone() -> None:
    assert "zone 'Front Desk'" in zones_error({**DESK, "name": "Front Desk"})
    assert "zone 'a-very-long-zone-name'" in zones_error({**DESK, "name": "a-very-long-zone-name"})
    assert "zones.0.polygon (zone 'desk')" in zones_error({**DESK, "polygon": "square"})
    assert "zones.0.role (zone 'desk')" in zones_error({**DESK, "role": "boss"})


def test_config_check_exits_78_naming_the_zone(tmp_path: Path) -> None:
    bad = {**DESK, "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps({"zones": [bad]}))
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "config", "check", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EX_CONFIG
    assert "zone 'desk'" in proc.stderr + proc.stdout


def test_time_zones_work_without_system_zone_data(tmp_path: Path) -> None:
    """The box may have no /usr/share/zoneinfo: the tzdata wheel (a dependency) must serve."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import zoneinfo; zoneinfo.reset_tzpath([]);"
            "from agent.config import parse_config;"
            "print(parse_config({'device': {'timezone': 'Asia/Shanghai'}}).device.timezone)",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Asia/Shanghai"
