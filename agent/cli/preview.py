"""``triage-agent preview --out FILE.jpg``: one annotated camera frame for aiming the camera.

Reads one frame from the configured camera, runs the configured models on it, blurs every face
unless ``--no-blur``, and draws the configured zones (``[[zones]]``: outline, name and role), face
boxes (green masked, orange mask worn wrong, red unmasked) and each person: body box, feet point, and a label with role
(staff / patient), zone and mask state, so a technician can draw zones that fit the camera. The picture is
written to a local file only: URLs and network file systems are refused, and nothing is sent anywhere.
If the models cannot run, no picture is written, because faces could not be blurred.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.cli.errors import CliError
from agent.config import AgentConfig, load_config
from agent.vision import load_inference
from agent.vision.capture.frames import SourceUnavailableError, open_source
from agent.vision.findings import Frame, MaskVerdict, SceneFindings
from agent.vision.manifest import ModelError
from agent.vision.people import people_in
from agent.zones.map import ZoneMap

NETWORK_FS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs"}
)
WARMUP_FRAMES = 5


class PreviewError(CliError):
    """The preview could not be made; the message says what to do."""


def _fs_type(directory: Path) -> str | None:
    """The file system type holding ``directory`` (longest matching mount point)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = str(directory.resolve())
    best, fstype = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3:
            mnt = parts[1].replace("\\040", " ")
            inside = target == mnt or target.startswith(mnt.rstrip("/") + "/")
            if inside and len(mnt) > len(best):
                best, fstype = mnt, parts[2]
    return fstype


def check_output(out: str) -> Path:
    """A local ``.jpg`` path whose folder exists; raises :class:`PreviewError` otherwise."""
    if "://" in out or out.startswith("//"):
        raise PreviewError(f"{out}: previews are written to a local file only, not to a URL")
    path = Path(out)
    if path.suffix.lower() not in (".jpg", ".jpeg"):
        raise PreviewError(f"{out}: the file name must end in .jpg")
    if not path.parent.is_dir():
        raise PreviewError(f"{path.parent} does not exist; choose an existing local folder")
    fstype = _fs_type(path.parent)
    if fstype in NETWORK_FS:
        raise PreviewError(
            f"{path.parent} is on a network file system ({fstype}); write to a local folder "
            "such as your home folder"
        )
    return path


VERDICT_COLOURS: dict[MaskVerdict, tuple[int, int, int]] = {
    "masked": (0, 200, 0),
    "worn_wrong": (0, 140, 255),
    "unmasked": (0, 0, 230),
}
"""Face box colours (BGR) by mask verdict."""
VERDICT_TEXT: dict[MaskVerdict, str] = {
    "masked": "mask",
    "worn_wrong": "mask worn wrong",
    "unmasked": "no mask",
}

ROLE_COLOURS = {
    "staff": (200, 80, 200),
    "queue": (0, 170, 255),
    "waiting": (200, 160, 0),
    "entrance": (160, 160, 160),
}


def draw_zones(image: Frame, zones: ZoneMap) -> None:
    """Outline each configured zone with its name and role (nothing when none is configured)."""
    if zones.implicit:
        return
    h, w = image.shape[:2]
    for zone in zones.zones:
        pts = np.array(
            [[round(x * (w - 1)), round(y * (h - 1))] for x, y in zone.polygon], np.int32
        )
        colour = ROLE_COLOURS[zone.role]
        cv2.polylines(image, [pts], isClosed=True, color=colour, thickness=2)
        x, y = int(pts[:, 0].min()) + 4, int(pts[:, 1].min()) + 16
        cv2.putText(
            image, f"{zone.name} ({zone.role})", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1
        )


def draw_people(image: Frame, findings: SceneFindings, zones: ZoneMap) -> str:
    """Each person's body box, feet and ``role / zone / mask``; returns counts for the summary."""
    h, w = image.shape[:2]
    staff = patients = 0
    for person in people_in(findings):
        zone = zones.locate(person.feet)
        is_staff = zone is not None and zone.role == "staff"
        staff += is_staff
        patients += not is_staff
        colour = ROLE_COLOURS["staff"] if is_staff else (230, 120, 0)
        b = person.box
        cv2.rectangle(image, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), colour, 1)
        feet = (round(person.feet[0] * (w - 1)), round(person.feet[1] * (h - 1)))
        cv2.circle(image, feet, 5, colour, -1)
        where = zone.name if zone is not None and not zone.implicit else "no zone"
        if zones.implicit:
            where = "whole frame"
        label = f"{'staff' if is_staff else 'patient'} / {where} / {person.mask}"
        cv2.putText(
            image,
            label,
            (int(b.x1) + 2, min(h - 4, int(b.y2) - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            colour,
            1,
        )
    return f"{staff} staff, {patients} patient(s)"


def make_preview(cfg: AgentConfig, out: Path, blur: bool = True) -> str:
    """Grab, analyse, annotate and write one frame; returns a one-line summary."""
    try:
        analyser = load_inference(cfg.vision)
    except ModelError as exc:
        raise PreviewError(
            f"{exc}; no preview written, because faces could not be blurred"
        ) from None
    source = open_source(cfg.camera)
    try:
        source.open()
    except SourceUnavailableError as exc:
        raise PreviewError(
            f"{exc}; if the agent is running it holds the camera: "
            "sudo systemctl stop triage-agent, preview, then start it again"
        ) from None
    frame = None
    try:
        for _ in range(WARMUP_FRAMES):  # let exposure settle
            got = source.read()
            if got is not None:
                frame = got
    finally:
        source.close()
    if frame is None:
        raise PreviewError("the camera delivered no frame; check camera.source and the cable")
    findings = analyser.analyse(frame, time.time())
    image = frame.copy()
    zones = ZoneMap(cfg.zones)
    for face in findings.faces:
        x1, y1 = max(0, int(face.box.x1)), max(0, int(face.box.y1))
        x2, y2 = min(image.shape[1], int(face.box.x2)), min(image.shape[0], int(face.box.y2))
        if blur and x2 > x1 and y2 > y1:
            k = max(15, ((x2 - x1) // 3) | 1)
            image[y1:y2, x1:x2] = cv2.GaussianBlur(image[y1:y2, x1:x2], (k, k), 0)
        verdict = face.verdict
        colour = VERDICT_COLOURS[verdict]
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2)
        label = f"{VERDICT_TEXT[verdict]} {face.mask_prob:.2f}"
        if verdict == "worn_wrong" or face.worn_wrong_prob > 0.0:
            label += f" / worn wrong {face.worn_wrong_prob:.2f}"
        cv2.putText(image, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    draw_zones(image, zones)
    counts = draw_people(image, findings, zones)
    if not cv2.imwrite(str(out), image):
        raise PreviewError(f"cannot write {out}; check the folder is writable")
    os.chmod(out, 0o600)
    persons = "" if findings.persons is None else f", {len(findings.persons)} person box(es)"
    return (
        f"wrote {out} ({image.shape[1]}x{image.shape[0]}, {len(findings.faces)} face(s){persons}, "
        f"{counts}, "
        f"faces {'blurred' if blur else 'NOT blurred'}, inference {findings.inference_ms:.0f} ms)"
    )


def _cmd_preview(args: argparse.Namespace) -> int:
    try:
        out = check_output(args.out)
        cfg = load_config(args.config)
        print(make_preview(cfg, out, blur=not args.no_blur))
    except PreviewError as exc:
        print(f"triage-agent preview: {exc}", file=sys.stderr)
        return 1
    return 0


def add_parser(sub: Any, add_config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``preview``."""
    p = sub.add_parser("preview", help="save one annotated camera frame (faces blurred) locally")
    add_config_arg(p)
    p.add_argument("--out", required=True, help="local .jpg file to write")
    p.add_argument("--no-blur", action="store_true", help="do not blur faces (local aiming only)")
    p.set_defaults(func=_cmd_preview)
