"""Config sections of vision: the camera and the analysis of its frames."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from agent.flow.settings import Seconds, Section


class CameraConfig(Section):
    """Where frames come from. Frames never leave process memory."""

    enabled: bool = Field(default=True, description="Run the camera and vision at all.")
    source: str = Field(
        default="simulated",
        min_length=1,
        description=(
            "V4L2 index or /dev/videoN, rtsp:// or http:// URL, a video file, an image folder, "
            "or 'simulated' (a synthetic scene rendered in process: demos and tests). Must be "
            "given in the file while enabled: a file without it is refused, never run on the "
            "simulated scene."
        ),
    )
    width: int = Field(default=640, ge=64, le=4096, description="Requested frame width.")
    height: int = Field(default=480, ge=48, le=4096, description="Requested frame height.")
    max_fps: float = Field(
        default=30.0,
        gt=0,
        le=60,
        description=(
            "Frames per second the vision worker takes (each is motion-checked; the detectors "
            "run as vision.detect_fps and vision.full_every_s allow); also the rate of "
            "image-folder and simulated sources."
        ),
    )
    loop: bool = Field(default=True, description="Loop video files and image folders.")
    reconnect_min_s: Seconds = Field(default=1.0, description="First camera reopen delay.")
    reconnect_max_s: Seconds = Field(
        default=5.0,
        description=(
            "Longest camera reopen delay; at most about 5 s keeps the time from the device's return "
            "to data under 10 s whatever the outage."
        ),
    )
    stale_after_s: Seconds = Field(
        default=10.0, description="No frame for this long marks the camera stale (health, status)."
    )
    lost_alert_after_s: Seconds = Field(
        default=60.0,
        description=(
            "While the clinic is open, raise 'camera_lost' once it stayed stale this much longer."
        ),
    )
    simulated_scenes_dir: Path | None = Field(
        default=None,
        description=(
            "Photos the 'simulated' camera cycles through (mask images from the sibling 'mask' "
            "folder are composed in); synthetic frames when unset or absent."
        ),
    )


Share = Annotated[float, Field(gt=0, le=1)]


class IntegrityConfig(Section):
    """Camera integrity (tamper) checks and their ``setup`` alerts (docs/INTEGRITY.md)."""

    enabled: bool = Field(
        default=True,
        description=(
            "Check the camera for being covered, too dark, out of focus or moved "
            "(not done for camera.source = 'simulated')."
        ),
    )
    check_every_s: Seconds = Field(
        default=1.0, description="Seconds between two integrity checks of the newest frame."
    )
    reference_file: Path | None = Field(
        default=None,
        description=(
            "Commissioned reference written by `triage-agent commission`; default "
            "<runtime.state_dir>/camera-reference.npz. Without it 'moved' is not judged."
        ),
    )
    covered_after_s: Seconds = Field(
        default=30.0, description="Raise 'camera_covered' after the view stays covered this long."
    )
    dark_after_s: Seconds = Field(
        default=60.0, description="Raise 'camera_dark' after the image stays too dark this long."
    )
    blurred_after_s: Seconds = Field(
        default=60.0, description="Raise 'camera_blurred' after the image stays blurred this long."
    )
    moved_after_s: Seconds = Field(
        default=60.0,
        description="Raise 'camera_moved' after the view stays off its reference this long.",
    )
    clear_after_s: Seconds = Field(
        default=10.0, description="Clear a camera alert after the check passed this long."
    )
    covered_share: Share = Field(
        default=0.6,
        description="Share of the commissioned textured view that is featureless: covered.",
    )
    covered_share_uncommissioned: Share = Field(
        default=0.85,
        description="Not commissioned: share of the whole view featureless that is covered.",
    )
    dark_luma: float = Field(
        default=35.0, ge=0, le=255, description="Mean brightness (0-255) below which: too dark."
    )
    blur_ratio: Share = Field(
        default=0.3, description="Sharpness below this share of the commissioned: blurred."
    )
    blur_min_sharpness: float = Field(
        default=400.0,
        gt=0,
        description="Not commissioned: median Laplacian energy below this is blurred.",
    )
    moved_min_match: Share = Field(
        default=0.15,
        description="Share of reference landmarks in place below which the view is moved.",
    )
    moved_min_shift: Share = Field(
        default=0.015,
        description="View displaced by at least this share of the frame width: moved.",
    )
    window: int = Field(
        default=5, ge=1, le=100, description="Decide on the median of this many recent checks."
    )
    moved_window: int = Field(
        default=30,
        ge=1,
        le=600,
        description="A landmark seen in place in any of this many recent checks counts as there.",
    )


class VisionConfig(Section):
    """Face, mask and occupancy analysis on camera frames."""

    models_dir: Path = Field(
        default=Path("models"),
        description="Folder holding the ONNX files and manifest.json (relative to the CWD).",
    )
    face_model: str = Field(
        default="face-detector-int8", description="Manifest name of the face detector."
    )
    mask_model: str = Field(
        default="mask-classifier", description="Manifest name of the mask classifier."
    )
    face_min_score: float = Field(
        default=0.5, ge=0, le=1, description="Minimum face detection score."
    )
    person_model: str | None = Field(
        default="person-detector",
        description=(
            "Manifest name of the person detector (task 'person'): people are counted and placed "
            "in zones by their whole body, faces attached to them; unset counts faces only."
        ),
    )
    threads: int = Field(
        default=1, ge=1, le=8, description="onnxruntime intra-op threads per vision model."
    )
    motion_gating: bool = Field(
        default=True,
        description=(
            "Check every frame for motion and run the detectors only where and when something "
            "moved (plus a full-frame check every full_every_s); false: a plain frame stride."
        ),
    )
    motion_threshold: int = Field(
        default=20,
        ge=1,
        le=255,
        description="Grey-level change (0-255) against the running background that counts as motion.",
    )
    detect_fps: float = Field(
        default=4.0,
        gt=0,
        le=60,
        description=(
            "While something moves, run the detectors at most this many times a second (every "
            "8th frame of a 30 frames/s camera); the trackers carry people between."
        ),
    )
    full_every_s: Seconds = Field(
        default=2.0,
        description="Run every detector on the whole frame at least this often, motion or not.",
    )
    idle_full_every_s: Seconds = Field(
        default=10.0,
        description=(
            "The same whole-frame check while the scene is idle (nothing moved and nobody in view "
            "for a second): someone stepping in is found by the motion check at once, so an empty "
            "desk needs the detectors only this often."
        ),
    )
    person_every: int = Field(
        default=2,
        ge=1,
        le=100,
        description=(
            "Run the person detector on every Nth detection only (its last boxes are carried "
            "between, never longer than 1 s, and it runs at once whenever the fresh faces with "
            "the carried boxes would change the people count)."
        ),
    )
    region_crops: bool = Field(
        default=True,
        description=(
            "Run the face detector on a crop around the moving areas and known faces (full "
            "resolution) instead of the whole frame."
        ),
    )
    crowd_tile_above: int = Field(
        default=12,
        ge=1,
        le=1000,
        description=(
            "A whole-frame analysis that finds more people than this is a crowd: the face "
            "detector runs again on upscaled overlapping tiles (crowd_tiles) to count the small "
            "faces; a desk scene never gets there. While the last count was above it, the "
            "detection gate analyses whole frames instead of region crops."
        ),
    )
    crowd_tiles: int = Field(
        default=2,
        ge=0,
        le=4,
        description=(
            "Tiles per side for a crowd (2: four tiles, each upscaled about 1.75x, five face "
            "detector runs per crowded detection); 0 or 1: never tile."
        ),
    )
    crowd_face_min_score: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Minimum face detection score on the crowd tiles (small faces score lower).",
    )
    closer_looks: int = Field(
        default=4,
        ge=0,
        le=16,
        description=(
            "Upscaled looks at the heads of small people whose face was not found (the back of "
            "a queue), per analysis with person boxes (the same heads again for 1 s while the "
            "boxes are carried); 0: never."
        ),
    )
    closer_below_px: float = Field(
        default=80.0,
        gt=0,
        le=640,
        description=(
            "A person box narrower than this many frame pixels, with no face found, gets a "
            "closer look (its face would be under about 45 % of that)."
        ),
    )
    closer_face_min_score: float = Field(
        default=0.4,
        ge=0,
        le=1,
        description="Minimum face detection score in a closer look (small faces score lower).",
    )
    unmasked_alert_after_s: Seconds = Field(
        default=10.0,
        description="Raise an 'unmasked' alert after a face stays not properly masked (no mask, "
        "or a mask worn wrong: its cause) this long.",
    )
    staff_unmasked_after_s: Seconds = Field(
        default=30.0,
        description="Raise a 'staff_unmasked' alert after a person in a staff zone stays not "
        "properly masked (no mask, or a mask worn wrong) this long.",
    )
    crowd_limit: int = Field(
        default=5,
        ge=1,
        description=(
            "Occupancy above this many people counts as crowding (per queue/waiting zone "
            "unless the zone sets its own)."
        ),
    )
    crowd_after_s: Seconds = Field(
        default=30.0, description="Raise a 'crowding' alert after crowding lasts this long."
    )
    compliance_window_s: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        description=(
            "Period of the mask compliance and occupancy maximum events, 1 to 3600 seconds."
        ),
    )
    reentry_grace_s: float = Field(
        default=10.0,
        ge=0.0,
        le=3600.0,
        description=(
            "Arrivals: a person lost from view (occlusion, missed detections, a hand over the "
            "lens) and seen again near the same place within this many seconds is not counted "
            "again; 0 counts every new track."
        ),
    )
    integrity: IntegrityConfig = Field(
        default_factory=IntegrityConfig, description="Camera integrity (tamper) checks."
    )
