"""On-device vision: camera frames -> face, mask and occupancy findings -> mask/occupancy/alert events.

One subpackage per thread, independent of each other (import-linter's ``vision`` contract):

- :mod:`agent.vision.capture` (the **camera grabber** thread): frame sources and the grabber;
- :mod:`agent.vision.inference` (the **vision worker** thread): the worker, its detection gate and
  motion check, the ONNX scene inference and model families, the camera integrity measurements;
- :mod:`agent.vision.analysers` (the **main loop**): findings -> events and alerts.

What they share sits below them: :mod:`agent.vision.people`, :mod:`agent.vision.geometry` and
:mod:`agent.vision.slot` (the latest-frame slot between grabber and worker), and under those
:mod:`agent.vision.findings`, :mod:`agent.vision.config` and :mod:`agent.vision.manifest`.

:func:`build` is the pipeline's plug-in point, the only module that sees all three. It returns two
sources, the frame grabber (stage ``camera``, :mod:`agent.vision.capture.grabber`) and the inference
worker (stage ``vision``, :mod:`agent.vision.inference.worker`), and the analysers
:mod:`agent.vision.analysers.compliance` (``mask`` events, ``unmasked`` and ``staff_unmasked``
alerts), :mod:`agent.vision.analysers.occupancy` (``occupancy`` events, ``crowding`` alerts per
zone), when a staff zone and opening hours are configured :mod:`agent.vision.analysers.desk`
(``desk_unattended``), and, unless disabled, :mod:`agent.vision.analysers.integrity_alerts`
(``setup`` alerts: camera covered, dark, blurred, moved; the checks themselves are
:mod:`agent.vision.inference.integrity`). Zones (:mod:`agent.zones`) place each person. Frames,
crops and face boxes never leave this package's threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agent.flow.alerts import AlertBook
from agent.flow.lost import always_open
from agent.vision.analysers.compliance import ComplianceAnalyser
from agent.vision.analysers.desk import DeskAnalyser
from agent.vision.analysers.integrity_alerts import IntegrityAnalyser
from agent.vision.analysers.occupancy import OccupancyAnalyser
from agent.vision.capture.grabber import CameraReader
from agent.vision.inference.gate import BUFFER_FRAMES, GateSettings
from agent.vision.inference.integrity import IntegrityChecker, thresholds
from agent.vision.inference.integrity_reference import (
    REFERENCE_NAME,
    Reference,
    ReferenceFileError,
    load_reference,
)
from agent.vision.inference.worker import VisionWorker
from agent.zones.config import ClinicConfig, ZoneConfig
from agent.zones.hours import OpeningHours
from agent.zones.map import ZoneMap

if TYPE_CHECKING:
    from agent.flow.ports import Analyser, Source
    from agent.vision.config import CameraConfig, IntegrityConfig, VisionConfig
    from agent.vision.findings import SceneInference

log = logging.getLogger(__name__)


class _LoadSceneInference(Protocol):
    def __call__(self, vision: VisionConfig, /) -> SceneInference: ...


def load_inference(vision: VisionConfig) -> SceneInference:
    """The configured models as one scene inference (``agent.vision.inference.scene.load_scene_inference``)."""
    loader: _LoadSceneInference = import_module("agent.vision.inference.scene").load_scene_inference
    return loader(vision)


def gate_settings(vision: VisionConfig) -> GateSettings:
    """The detection gate's schedule from the ``vision`` section (:mod:`agent.vision.inference.gate`)."""
    return GateSettings(
        motion=vision.motion_gating,
        detect_fps=vision.detect_fps,
        full_every_s=vision.full_every_s,
        idle_full_every_s=vision.idle_full_every_s,
        person_every=vision.person_every,
        regions=vision.region_crops,
        motion_threshold=vision.motion_threshold,
        crowd_above=vision.crowd_tile_above if vision.crowd_tiles >= 2 else 0,
    )


def people_analysers(
    vision: VisionConfig,
    zones: Sequence[ZoneConfig] = (),
    clinic: ClinicConfig | None = None,
    timezone: str = "UTC",
    book: AlertBook | None = None,
) -> list[Analyser]:
    """The vision analysers for these zones and opening hours (the desk one only when a staff
    zone and some opening hours are configured); their alerts are kept in ``book``."""
    zone_map = ZoneMap(zones)
    out: list[Analyser] = [
        ComplianceAnalyser(vision, zone_map, book=book),
        OccupancyAnalyser(vision, zone_map, book=book),
    ]
    hours = OpeningHours(clinic, timezone) if clinic is not None else None
    if clinic is not None and hours is not None and hours.ever_open and zone_map.has_staff:
        out.append(DeskAnalyser(zone_map, clinic, hours, book=book))
    return out


def build(
    camera: CameraConfig,
    vision: VisionConfig,
    inference: SceneInference | None = None,
    *,
    state_dir: Path | None = None,
    is_open: Callable[[float], bool] = always_open,
    zones: Sequence[ZoneConfig] = (),
    clinic: ClinicConfig | None = None,
    timezone: str = "UTC",
    book: AlertBook | None = None,
) -> tuple[list[Source], list[Analyser]]:
    """Camera and vision stages; empty lists when ``camera.enabled`` is false.

    The camera reference is read from ``vision.integrity.reference_file`` or ``state_dir``; camera
    alerts are raised only while ``is_open`` (the clinic's opening hours) and kept in ``book``.

    Raises :class:`~agent.flow.settings.ConfigError` for an unusable ``camera.source`` and
    :class:`~agent.vision.manifest.ModelError` when the models cannot be loaded.
    """
    if not camera.enabled:
        return [], []
    grabber = CameraReader(camera, buffer_frames=BUFFER_FRAMES)
    scene = inference if inference is not None else load_inference(vision)
    integrity = vision.integrity
    checker = None
    analysers = people_analysers(vision, zones, clinic, timezone, book)
    if integrity.enabled and camera.source != "simulated":  # nothing to tamper with in a demo
        reference = load_commissioned(reference_path(integrity, state_dir))
        checker = IntegrityChecker(thresholds(integrity), reference)
        commissioned = reference is not None and reference.can_judge_moves
        analysers.append(
            IntegrityAnalyser(integrity, commissioned=commissioned, is_open=is_open, book=book)
        )
    worker = VisionWorker(
        grabber.latest,
        scene,
        camera.max_fps,
        stale_after_s=camera.stale_after_s,
        gate=gate_settings(vision),
        integrity=checker,
        integrity_every_s=integrity.check_every_s,
    )
    return [grabber, worker], analysers


def reference_path(integrity: IntegrityConfig, state_dir: Path | None) -> Path | None:
    """Where ``triage-agent commission`` writes the camera reference and the agent reads it:
    ``vision.integrity.reference_file``, else ``<runtime.state_dir>/camera-reference.npz``."""
    if integrity.reference_file is not None:
        return integrity.reference_file
    return None if state_dir is None else state_dir / REFERENCE_NAME


def load_commissioned(path: Path | None) -> Reference | None:
    """The commissioned camera reference, or None (logged) when absent or unusable: the agent then
    runs the covered, dark and blurred checks on absolute thresholds and cannot judge moves."""
    if path is None:
        return None
    try:
        ref = load_reference(path)
    except FileNotFoundError:
        log.warning(
            "camera not commissioned (%s absent): a moved camera cannot be detected; run "
            "`triage-agent commission` with the camera aimed as intended",
            path,
        )
        return None
    except (ReferenceFileError, OSError) as exc:
        log.error("%s; moves cannot be detected until then", exc)
        return None
    if not ref.can_judge_moves:
        log.warning(
            "camera reference %s has only %d landmarks: a moved camera cannot be detected; "
            "aim at a view with more structure and re-run `triage-agent commission`",
            path,
            ref.landmarks,
        )
    return ref
