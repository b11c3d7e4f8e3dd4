"""On-device vision: camera frames -> face, mask and occupancy findings -> mask/occupancy/alert events.

:func:`build` is the pipeline's plug-in point. It returns two sources, the frame grabber (stage
``camera``, :mod:`agent.vision.grabber`) and the inference worker (stage ``vision``,
:mod:`agent.vision.worker`), and two analysers, :mod:`agent.vision.compliance` (``mask`` events,
``unmasked`` alert) and :mod:`agent.vision.occupancy` (``occupancy`` events, ``crowding`` alert).
Frames, crops and face boxes never leave this package's threads.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Protocol

from agent.vision.compliance import ComplianceAnalyser
from agent.vision.gate import BUFFER_FRAMES, GateSettings
from agent.vision.grabber import FrameGrabber
from agent.vision.occupancy import OccupancyAnalyser
from agent.vision.worker import VisionWorker

if TYPE_CHECKING:
    from agent.flow.ports import Analyser, Source
    from agent.vision.config import CameraConfig, VisionConfig
    from agent.vision.findings import SceneAnalyser


class _LoadSceneAnalyser(Protocol):
    def __call__(self, vision: VisionConfig, /) -> SceneAnalyser: ...


def load_analyser(vision: VisionConfig) -> SceneAnalyser:
    """The configured models as one scene analyser (``agent.vision.scene.load_scene_analyser``)."""
    loader: _LoadSceneAnalyser = import_module("agent.vision.scene").load_scene_analyser
    return loader(vision)


def gate_settings(vision: VisionConfig) -> GateSettings:
    """The detection gate's schedule from the ``vision`` section (:mod:`agent.vision.gate`)."""
    return GateSettings(
        motion=vision.motion_gating,
        detect_every=vision.detect_every,
        full_every_s=vision.full_every_s,
        person_every=vision.person_every,
        regions=vision.region_crops,
        motion_threshold=vision.motion_threshold,
    )


def build(
    camera: CameraConfig, vision: VisionConfig, analyser: SceneAnalyser | None = None
) -> tuple[list[Source], list[Analyser]]:
    """Camera and vision stages; empty lists when ``camera.enabled`` is false.

    Raises :class:`~agent.flow.settings.ConfigError` for an unusable ``camera.source`` and
    :class:`~agent.vision.manifest.ModelError` when the models cannot be loaded.
    """
    if not camera.enabled:
        return [], []
    grabber = FrameGrabber(camera, buffer_frames=BUFFER_FRAMES)
    scene = analyser if analyser is not None else load_analyser(vision)
    worker = VisionWorker(
        grabber.latest,
        scene,
        camera.max_fps,
        stale_after_s=camera.stale_after_s,
        gate=gate_settings(vision),
    )
    return [grabber, worker], [ComplianceAnalyser(vision), OccupancyAnalyser(vision)]
