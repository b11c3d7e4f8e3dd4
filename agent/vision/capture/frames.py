"""Frame sources: where camera frames come from, opened and read through OpenCV.

``camera.source`` selects one of:

- a V4L2 device: an index (``0``) or a path (``/dev/video0``, ``/dev/v4l/by-id/...``);
- a network stream: ``rtsp://``, ``rtsps://``, ``http://``, ``https://`` (credentials in the URL are
  never logged: :func:`agent.flow.redact.redact_url` removes them);
- a video file (looped when ``camera.loop``);
- an image folder (``*.jpg|jpeg|png|bmp``, sorted by name, looped when ``camera.loop``);
- ``simulated``: the photos in ``camera.simulated_scenes_dir``
  with mask face images composed into extra frames, or, when it is unset or absent, synthetic frames
  rendered in process (``make run`` points it at ``../shared/data/scenes`` when that exists).

A :class:`FrameSource` is opened, read frame by frame, and closed by the grabber thread. ``open``
raises :class:`SourceUnavailableError` when the device, file or stream is not there; ``read`` returns
``None`` when the source ended or vanished (the grabber then reconnects with backoff). Every frame is
fitted within ``camera.width`` x ``camera.height`` (never upscaled). Frames stay in process memory.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np

from agent.flow.redact import redact_url
from agent.flow.settings import ConfigError
from agent.vision.config import CameraConfig
from agent.vision.errors import VisionError
from agent.vision.findings import Frame

log = logging.getLogger(__name__)

SourceKind = Literal["device", "stream", "file", "folder", "simulated"]
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
STREAM_TIMEOUT_MS = 5000
"""Open and read timeout for network streams, so a vanished camera never blocks for long."""
SIMULATED_HOLD_S = 4.0
"""How long the simulated camera shows one scene (a person stays a while), at any frame rate."""


class SourceUnavailableError(VisionError):
    """The camera, file or stream cannot be opened now; the message says what to check."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed ``camera.source`` value."""

    kind: SourceKind
    target: str
    """Device index or path, URL, file or folder path; '' for simulated."""

    @property
    def label(self) -> str:
        """What to show in logs (credentials removed)."""
        return redact_url(self.target) if self.kind == "stream" else (self.target or self.kind)


class FrameSource(Protocol):
    """An open-able, readable source of BGR frames."""

    spec: SourceSpec
    native_fps: float | None
    """Rate at which frames should be read when the source does not pace itself (files, folders,
    simulated); None for live cameras and streams, whose ``read`` blocks until the next frame."""

    def open(self) -> None:
        """Open the source; raise :class:`SourceUnavailableError` with a clear reason when it is absent."""

    def read(self) -> Frame | None:
        """The next frame, or None when the source ended (without loop) or vanished."""

    def skip(self) -> bool:
        """Pass over the next frame as cheaply as the source allows (no conversion to BGR);
        False when the source ended (without loop) or vanished."""

    def close(self) -> None:
        """Release the device or file; safe to call twice."""


def parse_source(source: str) -> SourceSpec:
    """Classify a ``camera.source`` value; raise :class:`ConfigError` when it cannot be a source."""
    text = source.strip()
    if text == "simulated":
        return SourceSpec("simulated", "")
    if re.fullmatch(r"\d{1,3}", text):
        return SourceSpec("device", text)
    if text.startswith("/dev/"):
        return SourceSpec("device", text)
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if scheme:
        if scheme.group(1).lower() not in STREAM_SCHEMES:
            raise ConfigError(
                f"camera.source = {redact_url(text)!r}: unsupported URL scheme {scheme.group(1)!r}; "
                f"use one of {', '.join(s + '://' for s in STREAM_SCHEMES)}, a device, a video "
                "file, an image folder or 'simulated'"
            )
        return SourceSpec("stream", text)
    if Path(text).is_dir():
        return SourceSpec("folder", text)
    return SourceSpec("file", text)


def as_frame(image: object) -> Frame:
    """An OpenCV result typed as a uint8 frame (no copy when it already is one)."""
    return np.asarray(image, dtype=np.uint8)


def fit(image: Frame, width: int, height: int) -> Frame:
    """``image`` scaled down (aspect kept) to fit within ``width`` x ``height``; never upscaled."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return as_frame(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def _as_bgr(image: Frame) -> Frame:
    code = None
    if image.ndim == 2:
        code = cv2.COLOR_GRAY2BGR
    elif image.shape[2] == 4:
        code = cv2.COLOR_BGRA2BGR
    if code is None:
        return image
    return as_frame(cv2.cvtColor(image, code))


class CaptureSource:
    """A V4L2 device, a network stream or a video file, through ``cv2.VideoCapture``."""

    def __init__(self, spec: SourceSpec, camera: CameraConfig) -> None:
        self.spec = spec
        self._camera = camera
        self._cap: cv2.VideoCapture | None = None
        self.native_fps: float | None = None

    def open(self) -> None:
        self.close()
        spec, cam = self.spec, self._camera
        if spec.kind == "file" and not Path(spec.target).is_file():
            raise SourceUnavailableError(
                f"video file {spec.target} not found; check camera.source (waiting for it to appear)"
            )
        if spec.kind == "device":
            dev: int | str = int(spec.target) if spec.target.isdigit() else spec.target
            if isinstance(dev, str) and not Path(dev).exists():
                raise SourceUnavailableError(
                    f"camera device {dev} not present; check the cable and `ls /dev/video*`"
                )
            cap = cv2.VideoCapture(dev, cv2.CAP_V4L2)
            if cap.isOpened():
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, cam.width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cam.height)
                cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        elif spec.kind == "stream":
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                STREAM_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                STREAM_TIMEOUT_MS,
            ]
            cap = cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG, params)
        else:
            cap = cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            what = {"device": "camera device", "stream": "stream", "file": "video file"}[spec.kind]
            raise SourceUnavailableError(
                f"cannot open {what} {spec.label}; check that it is reachable and in a format "
                "OpenCV/FFmpeg can decode"
            )
        self._cap = cap
        if spec.kind == "file":
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            self.native_fps = fps if 0.0 < fps <= 240.0 else 25.0

    def read(self) -> Frame | None:
        cap = self._cap
        if cap is None:
            return None
        ok, image = cap.read()
        if not ok and self.spec.kind == "file" and self._camera.loop:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = cap.read()
        if not ok or image is None:
            return None
        return fit(_as_bgr(as_frame(image)), self._camera.width, self._camera.height)

    def skip(self) -> bool:
        cap = self._cap
        if cap is None:
            return False
        ok = cap.grab()  # V4L2 MJPEG/YUYV and streams: dequeued, not decoded/converted
        if not ok and self.spec.kind == "file" and self._camera.loop:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok = cap.grab()
        return bool(ok)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FolderSource:
    """Images in a folder, sorted by name, one per frame at ``camera.max_fps``."""

    def __init__(self, spec: SourceSpec, camera: CameraConfig) -> None:
        self.spec = spec
        self._camera = camera
        self._files: list[Path] = []
        self._next = 0
        self.native_fps: float | None = camera.max_fps

    def open(self) -> None:
        folder = Path(self.spec.target)
        if not folder.is_dir():
            raise SourceUnavailableError(f"image folder {folder} not found; check camera.source")
        self._files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceUnavailableError(
                f"image folder {folder} holds no {'/'.join(IMAGE_SUFFIXES)} files; add images"
            )
        self._next = 0

    def read(self) -> Frame | None:
        while self._files:
            if self._next >= len(self._files):
                if not self._camera.loop:
                    return None
                self._next = 0
            path = self._files[self._next]
            self._next += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("camera: skipping unreadable image %s", path.name)
                self._files.remove(path)
                self._next -= 1
                continue
            return fit(as_frame(image), self._camera.width, self._camera.height)
        return None

    def skip(self) -> bool:
        if not self._files:
            return False
        if self._next >= len(self._files):
            if not self._camera.loop:
                return False
            self._next = 0
        self._next += 1
        return True

    def close(self) -> None:
        self._files = []


class SimulatedSource:
    """Real scene photos plus composed mask-image frames, or synthetic frames without ../shared."""

    _warned_synthetic = False

    def __init__(self, spec: SourceSpec, camera: CameraConfig) -> None:
        self.spec = spec
        self._camera = camera
        self.native_fps: float | None = camera.max_fps
        self._hold_frames = max(1, round(SIMULATED_HOLD_S * camera.max_fps))
        self._scenes: list[Frame] = []
        self._count = 0

    @property
    def synthetic(self) -> bool:
        """True when no photos were found and frames are rendered in process."""
        return not self._scenes

    def open(self) -> None:
        cam = self._camera
        folder = cam.simulated_scenes_dir
        self._scenes = []
        self._count = 0
        if folder is not None and folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                    if image is not None:
                        self._scenes.append(fit(as_frame(image), cam.width, cam.height))
            mask_dir = folder.parent / "mask"
            for i, sub in enumerate(("with_mask", "without_mask", "with_mask")):
                self._scenes.insert(2 * i + 1, self._compose(mask_dir / sub, i))
            self._scenes = [s for s in self._scenes if s.size]
        if self._scenes:
            log.info("camera: simulated source cycles %d frames from %s", len(self._scenes), folder)
        elif not SimulatedSource._warned_synthetic:
            SimulatedSource._warned_synthetic = True
            log.warning(
                "camera: simulated scenes folder %s absent; rendering synthetic frames instead "
                "(set camera.simulated_scenes_dir to use real photos)",
                folder,
            )

    def _compose(self, folder: Path, offset: int) -> Frame:
        """A desk-like frame: up to three face images from ``folder`` on a plain background."""
        cam = self._camera
        if not folder.is_dir():
            return np.zeros((0, 0, 3), np.uint8)
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        picks = files[offset * 3 : offset * 3 + 1 + offset % 3]
        canvas = np.full((cam.height, cam.width, 3), 200, np.uint8)
        slot_w = cam.width // max(1, len(picks))
        for i, path in enumerate(picks):
            face = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if face is None:
                continue
            face = fit(as_frame(face), slot_w - 8, cam.height - 8)
            fh, fw = face.shape[:2]
            x = i * slot_w + (slot_w - fw) // 2
            y = (cam.height - fh) // 2
            canvas[y : y + fh, x : x + fw] = face
        return canvas

    def _synthetic(self) -> Frame:
        cam = self._camera
        n = self._count // self._hold_frames
        canvas = np.full((cam.height, cam.width, 3), 180, np.uint8)
        people = 1 + n % 3
        for i in range(people):
            cx = (i + 1) * cam.width // (people + 1) + (self._count % 5)
            cy = cam.height // 2
            r = max(8, cam.height // 8)
            cv2.ellipse(canvas, (cx, cy), (r, int(r * 1.3)), 0, 0, 360, (150, 180, 220), -1)
            cv2.circle(canvas, (cx - r // 3, cy - r // 4), max(2, r // 8), (40, 40, 40), -1)
            cv2.circle(canvas, (cx + r // 3, cy - r // 4), max(2, r // 8), (40, 40, 40), -1)
            if (n + i) % 2 == 0:
                cv2.rectangle(canvas, (cx - r, cy), (cx + r, cy + r), (230, 220, 210), -1)
        return canvas

    def read(self) -> Frame | None:
        index = self._count
        self._count += 1
        if not self._scenes:
            return self._synthetic()
        frame = self._scenes[(index // self._hold_frames) % len(self._scenes)]
        return frame.copy()

    def skip(self) -> bool:
        self._count += 1
        return True

    def close(self) -> None:
        self._scenes = []


def open_source(camera: CameraConfig) -> FrameSource:
    """The (not yet opened) frame source ``camera.source`` names."""
    spec = parse_source(camera.source)
    if spec.kind == "folder":
        return FolderSource(spec, camera)
    if spec.kind == "simulated":
        return SimulatedSource(spec, camera)
    return CaptureSource(spec, camera)
