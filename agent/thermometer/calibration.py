"""The site calibration file of the thermometer: what it holds, reading and writing it atomically.

The file (``screening.calibration_file``, default ``<runtime.state_dir>/calibration.json``) is
written atomically: temp file in the same folder, fsync, ``os.replace``, fsync of the folder, so a
power cut leaves the old or the new file, never a torn one. It is written mode 0644 and, when root
writes it (``sudo triage-agent calibrate`` while the agent is stopped), owned like its folder (the
state directory belongs to the service user), so the service can always read what a technician
stored. Normally the running agent writes it itself (:mod:`.live_calibration`, through the status
socket). The agent never stops on this file: an unreadable or invalid one is a degraded state
(:class:`.live_calibration.CalibratedScreening`), :func:`load_calibration` raising
:class:`ConfigError` is for the command line (``calibrate --show``, ``diag``).
"""

from __future__ import annotations

import grp
import json
import math
import os
import pwd
import stat
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.flow.settings import ConfigError
from agent.thermometer.config import ScreeningConfig

FILE_VERSION = 1
OFFSET_LIMIT_C = 5.0
FILE_MODE = 0o644
"""Not secret (an offset in °C); readable by the service whoever wrote it. Its folder (the state
directory, 0750) keeps everyone else out."""


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


def owner_of(folder: Path) -> str:
    """``user:group`` owning ``folder`` (the service's, for the state directory), for advice."""
    try:
        st = folder.stat()
    except OSError:
        return "triage-agent:triage-agent"
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"{user}:{group}"


def permission_advice(path: Path) -> str:
    """What to do about a calibration file the service cannot read."""
    return (
        f"sudo chown {owner_of(path.parent)} {path} && sudo chmod 0644 {path} (the agent picks "
        "it up within seconds), or store the offset again with `triage-agent calibrate` while "
        "the agent runs"
    )


def load_calibration(path: Path) -> Calibration | None:
    """The stored calibration, None when there is none; ConfigError when the file is unusable."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except PermissionError:
        raise ConfigError(
            f"calibration file {path} is not readable by this user (permission denied, "
            f"{describe(path)}): {permission_advice(path)}; or re-run `triage-agent calibrate`"
        ) from None
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


def describe(path: Path) -> str:
    """``owner root:root, mode 0600`` of a file (for messages), or why it cannot be told."""
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot stat: {exc.strerror or exc}"
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"owner {user}:{group}, mode {stat.S_IMODE(st.st_mode):04o}"


def readable_by_folder_owner(path: Path) -> str | None:
    """Why the owner of the file's folder (the service user, for the state directory) could not
    read the file, judged from owner, group and mode; None when it could (or there is no file)."""
    try:
        folder = path.parent.stat()
        st = path.stat()
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if folder.st_uid == 0:
        return None  # root-owned folder: no service user to judge for
    if st.st_uid == folder.st_uid:
        readable = bool(mode & stat.S_IRUSR)
    elif st.st_gid == folder.st_gid:
        readable = bool(mode & stat.S_IRGRP)
    else:
        readable = bool(mode & stat.S_IROTH)
    if readable:
        return None
    return f"the service user ({owner_of(path.parent).split(':')[0]}) cannot read it ({describe(path)})"


def _owner_for_root(folder: Path) -> tuple[int, int] | None:
    """When root writes, the file takes its folder's owner and group (the service's)."""
    if os.geteuid() != 0:
        return None
    st = folder.stat()
    return st.st_uid, st.st_gid


def save_calibration(path: Path, cal: Calibration) -> None:
    """Write ``cal`` atomically (temp file + fsync + os.replace + directory fsync), mode 0644,
    owned like its folder when root writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"version": FILE_VERSION, **asdict(cal)}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".calibration-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), FILE_MODE)
            owner = _owner_for_root(path.parent)
            if owner is not None:
                os.fchown(f.fileno(), *owner)
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
    """The offset the file holds, else ``screening.site_offset_c``; ConfigError when the file is
    unusable (the command line's view; the agent degrades instead: :mod:`.live_calibration`)."""
    cal = load_calibration(calibration_path(screening, state_dir))
    return screening.site_offset_c if cal is None else cal.offset_c
