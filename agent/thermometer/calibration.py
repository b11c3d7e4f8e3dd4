"""The site calibration file of the thermometer: what it holds, reading and writing it atomically.

The file (``screening.calibration_file``, default ``<runtime.state_dir>/calibration.json``) is
written by ``triage-agent calibrate`` atomically: temp file in the same folder, fsync,
``os.replace``, fsync of the folder, so a power cut leaves the old or the new file, never a torn one.
At start the screening analyser uses its offset instead of ``screening.site_offset_c``; an unreadable
file stops the agent with a config error (exit 78) rather than screen with a wrong offset.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.flow.settings import ConfigError
from agent.thermometer.config import ScreeningConfig

FILE_VERSION = 1
OFFSET_LIMIT_C = 5.0


@dataclass(frozen=True, slots=True)
class Calibration:
    """What the calibration file holds."""

    offset_c: float
    at: float
    method: str
    """'reference' (measured against a reference thermometer) or 'manual' (--offset)."""
    reference_c: float | None = None
    estimate_c: float | None = None
    """The uncalibrated screening estimate the reference was compared with."""


def calibration_path(screening: ScreeningConfig, state_dir: Path) -> Path:
    """Where the calibration file lives."""
    return screening.calibration_file or state_dir / "calibration.json"


def load_calibration(path: Path) -> Calibration | None:
    """The stored calibration, None when there is none; ConfigError when the file is unusable."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"calibration file {path} is unreadable ({exc}); re-run `triage-agent calibrate` "
            "or remove the file to fall back to screening.site_offset_c"
        ) from None
    try:
        if raw.get("version") != FILE_VERSION:
            raise ValueError(f"version {raw.get('version')!r}, expected {FILE_VERSION}")
        offset = float(raw["offset_c"])
        if not math.isfinite(offset) or abs(offset) > OFFSET_LIMIT_C:
            raise ValueError(f"offset_c {offset} outside ±{OFFSET_LIMIT_C}")
        ref = raw.get("reference_c")
        est = raw.get("estimate_c")
        return Calibration(
            offset_c=offset,
            at=float(raw.get("at", 0.0)),
            method=str(raw.get("method", "manual")),
            reference_c=None if ref is None else float(ref),
            estimate_c=None if est is None else float(est),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"calibration file {path} is invalid ({exc}); re-run `triage-agent calibrate` "
            "or remove the file to fall back to screening.site_offset_c"
        ) from None


def save_calibration(path: Path, cal: Calibration) -> None:
    """Write ``cal`` atomically (temp file + fsync + os.replace + directory fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"version": FILE_VERSION, **asdict(cal)}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".calibration-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def effective_offset(screening: ScreeningConfig, state_dir: Path) -> float:
    """The site offset in force: the calibration file's, else ``screening.site_offset_c``."""
    cal = load_calibration(calibration_path(screening, state_dir))
    return screening.site_offset_c if cal is None else cal.offset_c
