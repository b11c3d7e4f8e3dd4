"""``triage-agent commission``: record the camera's reference view for the integrity checks.

Run it once the camera is mounted and aimed as intended, and again after every deliberate re-aim.
It reads ``--frames`` frames over ``--seconds`` from the configured camera (people may walk through:
landmarks are taken from the per-pixel median and kept only when stable), refuses a view that is
covered, too dark or blurred, and writes the reference (:func:`agent.vision.inference.integrity_reference.save_reference`)
to ``vision.integrity.reference_file`` or ``<runtime.state_dir>/camera-reference.npz``: landmark
positions and ORB descriptors plus per-cell statistics, no image. Nothing leaves the box.

The running agent owns the camera, so commissioning asks for it to be stopped first, and the agent
reads the new reference when it starts.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TextIO

from agent.cli.status import StatusClientError, fetch_status
from agent.config import AgentConfig, load_config
from agent.flow.settings import ConfigError
from agent.vision import reference_path
from agent.vision.capture.frames import FrameSource, SourceUnavailableError, open_source
from agent.vision.findings import Frame
from agent.vision.inference.integrity import IntegrityChecker, thresholds
from agent.vision.inference.integrity_measures import MIN_LANDMARKS
from agent.vision.inference.integrity_reference import (
    REFERENCE_NAME,
    build_reference,
    save_reference,
)

EXIT_FAILED = 1


def grab(source: FrameSource, frames: int, seconds: float) -> list[Frame]:
    """``frames`` frames spread over ``seconds`` (recorded sources: spread over as many frames)."""
    out: list[Frame] = []
    if source.native_fps is not None:  # a file or folder: frame times, not wall time
        step = max(1, round(source.native_fps * seconds / frames))
        index = 0
        while len(out) < frames:
            frame = source.read()
            if frame is None:
                break
            if index % step == 0:
                out.append(frame)
            index += 1
        return out
    interval = seconds / frames
    next_at = time.monotonic()
    deadline = next_at + seconds + 10.0
    while len(out) < frames and time.monotonic() < deadline:
        frame = source.read()  # live sources: keep reading so the frame kept is a fresh one
        if frame is None:
            break
        if time.monotonic() >= next_at:
            out.append(frame)
            next_at += interval
    return out


def commission(cfg: AgentConfig, frames: int, seconds: float, out: TextIO) -> int:
    """Record the reference; print what was done or what to fix. Returns the exit status."""
    if not cfg.camera.enabled:
        print("commission: the camera is disabled (camera.enabled = false)", file=out)
        return EXIT_FAILED
    path = reference_path(cfg.vision.integrity, cfg.runtime.state_dir) or (
        cfg.runtime.state_dir / REFERENCE_NAME
    )
    try:
        fetch_status(cfg.runtime.status_socket)
    except StatusClientError:
        pass
    else:
        print(
            "commission: the agent is running and holds the camera; stop it first "
            "(sudo systemctl stop triage-agent), commission, then start it again",
            file=out,
        )
        return EXIT_FAILED
    source = open_source(cfg.camera)
    try:
        source.open()
    except SourceUnavailableError as exc:
        print(f"commission: {exc}", file=out)
        return EXIT_FAILED
    try:
        images = grab(source, frames, seconds)
    finally:
        source.close()
    if len(images) < min(3, frames):
        print(
            f"commission: only {len(images)} frame(s) from {source.spec.label}; check the camera",
            file=out,
        )
        return EXIT_FAILED
    shapes = {i.shape for i in images}
    if len(shapes) > 1:
        print("commission: the camera changed resolution while recording; run again", file=out)
        return EXIT_FAILED
    # the view to record must not be mostly featureless: the commissioned limit applies already
    strict = thresholds(cfg.vision.integrity)
    strict = replace(strict, covered_share_uncommissioned=strict.covered_share)
    checker = IntegrityChecker(strict, None)
    findings = [checker.check(image, float(i)) for i, image in enumerate(images)][-1]
    bad = [v for v in findings.verdicts if v.outcome == "failed"]
    if bad:
        what = ", ".join(v.check for v in bad)
        print(
            f"commission: the view looks {what}; uncover the lens, light the scene or refocus, "
            "and run again (nothing recorded)",
            file=out,
        )
        return EXIT_FAILED
    try:
        ref = build_reference(images)
    except ValueError as exc:
        print(f"commission: {exc}; nothing recorded", file=out)
        return EXIT_FAILED
    try:
        save_reference(ref, path)
    except OSError as exc:
        print(f"commission: cannot write {path}: {exc.strerror}; run it with sudo", file=out)
        return EXIT_FAILED
    when = datetime.fromtimestamp(ref.created, UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"camera reference recorded in {path} ({when}): {ref.landmarks} landmarks from "
        f"{len(images)} frames of {source.spec.label}, checked at {ref.width}x{ref.height}. "
        "It holds landmark positions, descriptors and per-area statistics, no image.",
        file=out,
    )
    if not ref.can_judge_moves:
        print(
            f"WARNING: fewer than {MIN_LANDMARKS} landmarks: this view has too little structure "
            "for a moved camera to be detected; aim it to include the desk and the wall behind",
            file=out,
        )
    print("start the agent so it uses it: sudo systemctl start triage-agent", file=out)
    return 0


def _cmd_commission(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.frames < 1 or args.seconds <= 0:
        raise ConfigError("commission: --frames must be >= 1 and --seconds > 0")
    return commission(cfg, args.frames, args.seconds, sys.stdout)


def add_parser(sub: Any, add_config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``commission``."""
    p = sub.add_parser(
        "commission",
        help="record the camera's reference view (after mounting or a deliberate re-aim)",
    )
    add_config_arg(p)
    p.add_argument("--frames", type=int, default=15, help="frames to record (default 15)")
    p.add_argument(
        "--seconds", type=float, default=5.0, help="spread them over this long (default 5)"
    )
    p.set_defaults(func=_cmd_commission)
