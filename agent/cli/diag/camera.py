"""The ``camera`` check: the camera opens and delivers frames at (most of) ``camera.max_fps``.

It opens the source with :func:`agent.vision.capture.frames.open_source`, the function the grabber uses, so a
``camera.source`` that ``run`` rejects (exit 78) FAILs here too. While the agent runs it owns the
camera, so its live state is reported instead (opening it twice would steal frames). No frame is
written anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from agent.cli.diag.check import Check, Context
from agent.cli.diag.status import live_source
from agent.config import AgentConfig, ConfigError
from agent.vision.capture.frames import SourceUnavailableError, open_source

LISTEN_S = 3.0


def check_camera(cfg: AgentConfig, live: Mapping[str, Any] | None) -> Check:
    """The camera opens and delivers frames at (at least most of) ``camera.max_fps``."""
    c = cfg.camera
    if not c.enabled:
        return Check("camera", "SKIP", "disabled (camera.enabled = false)")
    if c.source == "simulated":
        return Check(
            "camera",
            "WARN",
            "simulated: no real camera is read",
            "set camera.source = '/dev/video0' (or the camera's rtsp:// URL)",
        )
    if live is not None:
        return live_source(
            "camera",
            "camera",
            live,
            "check the camera cable/power or stream URL; see journalctl -u triage-agent",
        )
    try:
        source = open_source(c)
        label = source.spec.label
        source.open()
    except (SourceUnavailableError, ConfigError) as exc:
        return Check(
            "camera",
            "FAIL",
            str(exc),
            "check camera.source; for USB cameras `ls /dev/video*`; run diag with sudo if "
            "access is denied (the service user is in group video)",
        )
    frames = 0
    shape = ""
    try:
        start = time.monotonic()
        end = start + LISTEN_S
        while time.monotonic() < end:
            frame = source.read()
            if frame is None:
                break
            frames += 1
            shape = f"{frame.shape[1]}x{frame.shape[0]}"
            if source.native_fps is not None and frames >= 5:
                break  # files and folders are not paced by a device: a few frames prove it
        elapsed = max(time.monotonic() - start, 1e-6)
    finally:
        source.close()
    if frames == 0:
        return Check(
            "camera",
            "FAIL",
            f"{label} opened but delivered no frame",
            "another program may hold the camera, or the stream is down; check camera.source",
        )
    if source.native_fps is not None:
        return Check("camera", "PASS", f"{label}: frames {shape} (recorded source)")
    fps = frames / elapsed
    if fps < 0.8 * c.max_fps:
        return Check(
            "camera",
            "WARN",
            f"{label}: {fps:.1f} frames/s {shape}, below camera.max_fps = {c.max_fps:g}",
            "improve lighting (dark scenes lower the rate), use a lower resolution, or lower "
            "camera.max_fps",
        )
    return Check("camera", "PASS", f"{label}: {fps:.1f} frames/s {shape}")


def check(ctx: Context) -> list[Check]:
    """Registry entry."""
    return [check_camera(ctx.cfg, ctx.live)]
