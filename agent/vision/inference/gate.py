"""The detection gate: which frames the detectors see, and where, so a Pi-class core keeps up.

Every frame the worker takes goes through :meth:`DetectionGate.process`: a cheap motion check
(:mod:`agent.vision.inference.motion`, well under a millisecond), then one of

- **full** detection (every detector on the whole frame): on the first frame, when the picture
  changed as a whole (light, exposure), and at least every ``full_every_s`` seconds even without
  motion, so a person the motion check missed (someone who walked in very slowly) is found late
  but never lost, and a person standing still keeps being confirmed; while the gate is *idle*
  (below) only every ``idle_full_every_s`` seconds: nobody is there to confirm, and someone
  stepping in moves;
- **region** detection: something moved and ``1 / detect_fps`` seconds have passed since the
  last detection. The face detector runs on crops at full resolution (the moving areas and the last
  face boxes, each grown by a margin, overlapping ones merged), so face sizes, and with them
  recall, are those of a full-frame run; when the crops would cover more than
  :data:`REGION_MAX_SHARE` of the frame, the whole frame is analysed instead; detectors with a fixed input size (person detectors) run on the whole frame, but
  only every ``person_every`` detections, their last boxes carried in between; while the last
  findings were a crowd (more people than ``crowd_above``), the whole frame is analysed instead
  of crops, so the scene inference can tile it (:mod:`agent.vision.inference.crowd`: small faces
  found only on its upscaled tiles would be lost in crops, and the count would swing), and no
  early look is taken (each would be a tiled whole frame; in a crowd someone new is one of many);
- **early** region detection: motion where no known face or person is (someone stepping in) is
  looked at after :data:`FAST_EVERY` frames instead of waiting for ``detect_fps``; when such a look finds
  nobody new, early looks pause for :data:`FAST_HOLD_S`;
- **carried**: no detector is run. The last findings are re-emitted (with the new capture time) every
  ``keepalive_s`` so that the analysers' trackers (:mod:`agent.vision.analysers.tracker`, which bridge
  missed frames) keep the people in view, and nothing at all is emitted while the scene is empty
  and static.

Once nothing moved and nobody was in view for :data:`IDLE_AFTER_S`, the gate is *idle* and the
worker asks the grabber for every :data:`IDLE_STRIDE`-th frame only (the others are not even
decoded), until the next motion.

Person detection (whole frame: its input size is fixed) runs on every ``person_every``-th
detection of either kind, and on any detection once its boxes are :data:`PERSON_MAX_AGE_S` old;
its last boxes are carried in between: occupancy needs no more than a few updates a second. A
carried box never changes a count: when the fresh faces with the carried boxes make a different
number of people (:func:`agent.vision.people.people_in`) than the last findings did (someone came,
left, or moved away from their old body box), the person detector runs on this frame after all.

Applies to any :class:`~agent.vision.findings.SceneInference`: one that also implements
:class:`PartialSceneInference` (the product's ONNX analyser) gets region crops and the person stride,
any other one gets full-frame detections on the same schedule. With ``motion`` off, the gate is a
plain rate limit (a full detection at most ``detect_fps`` times a second).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from agent.vision.findings import Box, Frame, SceneFindings, SceneInference
from agent.vision.inference.motion import MotionDetector, Region, align, area, grow, merge, overlap
from agent.vision.people import people_in

REGION_MARGIN = 0.15
"""Region crops are grown by this share of their size per side..."""
REGION_PAD = 24
"""...plus this many pixels (a face half inside a moving area is still cut out whole)."""
REGION_ALIGN = 32
"""Crops start and end on this pixel grid (the detectors' largest stride), so a face in a crop
meets the network at the same grid phase as in the whole frame: unaligned crops were measured to
lose borderline faces (score 0.56 in the frame, below 0.5 in every unaligned crop tried)."""
REGION_MAX_SHARE = 0.85
"""A region covering more than this share of the frame is analysed as the full frame."""
PERSON_MAX_AGE_S = 1.0
"""Carried person boxes are never older than this: a detection after it always includes persons
(so people who left are not carried on while the scene is still)."""
DUE_SLACK_S = 0.002
"""A detection is due this much before its exact time (frame times jitter by a millisecond)."""
FAST_EVERY = 2
"""Motion where nobody is known (someone stepping in) is looked at after this many frames..."""
FAST_HOLD_S = 1.0
"""...unless such a look found nobody new within this many seconds (a moving screen or curtain
then costs at most one extra detection a second)."""
IDLE_AFTER_S = 1.0
"""The scene is *idle* once nothing moved and nobody was found for this long..."""
IDLE_STRIDE = 6
"""...and then only every 6th frame is motion-checked (5 a second from a 30/s camera): a person
stepping in is seen within about 0.2 s (``vision.react_s`` 0.195-0.204 s; 0.09 s at every 3rd
frame), for a sixth of the decoding and checking (the whole idle agent 2.80-2.85 % of a core
instead of 3.17-3.20 % on the 2-core EPYC VM, docs/PERFORMANCE.md)."""
BUFFER_FRAMES = 4
"""Frames the grabber may hold for a gated worker: a detection slower than a frame interval is
caught up on by the next frames' motion checks instead of dropping frames (about 130 ms at 30/s)."""


@runtime_checkable
class PartialSceneInference(Protocol):
    """A scene inference that can restrict face detection to a region and skip person detection."""

    def analyse_part(
        self, frame: Frame, at: float, regions: tuple[Region, ...] | None, persons: bool
    ) -> SceneFindings:
        """Faces within ``regions`` (whole frame when None; boxes in frame pixels); person boxes
        only when ``persons`` (else ``persons`` is None)."""

    def persons_in(self, frame: Frame) -> tuple[Box, ...] | None:
        """The person detector alone on the whole frame (None when none is configured)."""


@dataclass(frozen=True, slots=True)
class GateSettings:
    """When detectors run (see the module docstring); built from ``vision.*`` settings."""

    motion: bool = True
    detect_fps: float = 4.0
    full_every_s: float = 2.0
    idle_full_every_s: float = 10.0
    keepalive_s: float = 0.5
    person_every: int = 1
    regions: bool = True
    motion_threshold: int = 20
    crowd_above: int = 0
    """After findings with more people than this, whole frames instead of crops; 0: never."""


@dataclass(slots=True)
class GateCounts:
    """Frames by what the gate did with them (for benchmarks and health)."""

    frames: int = 0
    full: int = 0
    region: int = 0
    carried: int = 0
    """Frames where no detector ran (motion-checked only)."""
    fast: int = 0
    """Region detections (also counted in ``region``/``full``) run early for unexplained motion."""
    persons: int = 0
    """Detections that ran the person detector..."""
    confirmed: int = 0
    """...of which this many only because the people count changed under carried boxes."""


class DetectionGate:
    """Motion check on every frame; detection only where and when it can change the findings."""

    def __init__(
        self,
        inference: SceneInference,
        settings: GateSettings | None = None,
        motion: MotionDetector | None = None,
    ) -> None:
        self.settings = settings if settings is not None else GateSettings()
        self.counts = GateCounts()
        self._inference = inference
        self._partial = inference if isinstance(inference, PartialSceneInference) else None
        self._motion = (
            motion
            if motion is not None
            else MotionDetector(threshold=self.settings.motion_threshold)
        )
        self._last: SceneFindings | None = None
        self._last_full_at: float | None = None
        self._last_emit_at = 0.0
        self._since_detect = 0
        self._detections = 0
        self._quiet_since: float | None = None
        self._fast_hold_until = 0.0
        self._detect_at = -1e9
        self._persons_at = -PERSON_MAX_AGE_S
        self._now = 0.0

    @property
    def idle(self) -> bool:
        """Nothing moved for :data:`IDLE_AFTER_S` and the last findings were empty (motion on)."""
        last = self._last
        return (
            self.settings.motion
            and self._quiet_since is not None
            and self._now - self._quiet_since >= IDLE_AFTER_S
            and last is not None
            and not last.faces
            and not last.persons
        )

    def process(self, frame: Frame, at: float) -> SceneFindings | None:
        """Findings for this frame (fresh or carried), or None when there is nothing to say."""
        s = self.settings
        self.counts.frames += 1
        self._since_detect += 1
        moved: list[Region] = []
        flooded = False
        self._now = at
        if s.motion:
            result = self._motion.detect(frame)
            moved, flooded = list(result.boxes), result.flooded
            quiet = not moved and not flooded
            if not quiet:
                self._quiet_since = None
            elif self._quiet_since is None:
                self._quiet_since = at
        due = at - self._detect_at >= 1.0 / s.detect_fps - DUE_SLACK_S
        full_every = s.idle_full_every_s if self.idle else s.full_every_s
        if (
            self._last_full_at is None
            or flooded
            or at - self._last_full_at >= full_every
            or (not s.motion and due)
        ):
            return self._detect(frame, at, None)
        if moved and due:
            return self._detect(frame, at, self._region(frame, moved))
        if (
            moved
            and self._since_detect >= FAST_EVERY
            and at >= self._fast_hold_until
            and not self._crowded()
            and self._unexplained(frame, moved)
        ):
            # something moved where nobody is known: someone may be stepping in, look now
            known = len(self._last.faces) if self._last is not None else 0
            findings = self._detect(frame, at, self._region(frame, moved))
            self.counts.fast += 1
            if len(findings.faces) <= known:  # nothing new there: no fast look for a while
                self._fast_hold_until = at + FAST_HOLD_S
            return findings
        self.counts.carried += 1
        last = self._last
        if last is None or at - self._last_emit_at < s.keepalive_s:
            return None
        if not last.faces and not last.persons:
            return None  # an empty, static scene: nothing new to tell
        self._last_emit_at = at
        return replace(last, at=at, inference_ms=0.0)

    def _unexplained(self, frame: Frame, moved: list[Region]) -> bool:
        """Some moving area touches no known face or person (grown by the region margin)."""
        h, w = int(frame.shape[0]), int(frame.shape[1])
        last = self._last
        known: list[Region] = []
        if last is not None:
            boxes = [f.box for f in last.faces] + list(last.persons or ())
            known = [
                grow((int(b.x1), int(b.y1), int(b.x2) + 1, int(b.y2) + 1), 0.5, REGION_PAD, w, h)
                for b in boxes
            ]
        return any(not any(overlap(m, k) for k in known) for m in moved)

    def _region(self, frame: Frame, moved: list[Region]) -> tuple[Region, ...] | None:
        if not self.settings.regions or self._partial is None or self._crowded():
            return None
        h, w = int(frame.shape[0]), int(frame.shape[1])
        boxes = list(moved)
        if self._last is not None:
            boxes += [
                (int(f.box.x1), int(f.box.y1), int(f.box.x2) + 1, int(f.box.y2) + 1)
                for f in self._last.faces
            ]
        regions = merge(
            [align(grow(b, REGION_MARGIN, REGION_PAD, w, h), REGION_ALIGN, w, h) for b in boxes]
        )
        if not regions or sum(area(r) for r in regions) > REGION_MAX_SHARE * w * h:
            return None
        return tuple(regions)

    def _crowded(self) -> bool:
        """The last findings had more people than ``crowd_above`` (when set)."""
        above = self.settings.crowd_above
        return above > 0 and self._last is not None and len(people_in(self._last)) > above

    def _detect(self, frame: Frame, at: float, region: tuple[Region, ...] | None) -> SceneFindings:
        self._since_detect = 0
        self._detect_at = at
        self._detections += 1
        persons = (
            self._detections % max(1, self.settings.person_every) == 0
            or at - self._persons_at >= PERSON_MAX_AGE_S
        )
        if persons:
            self._persons_at = at
        if self._partial is not None:
            findings = self._partial.analyse_part(frame, at, region, persons)
        else:
            findings = self._inference.analyse(frame, at)
            persons = True
        if region is None:
            self._last_full_at = at
            self.counts.full += 1
        else:
            self.counts.region += 1
        if not persons and self._last is not None:
            findings = replace(findings, persons=self._last.persons)
            if self._partial is not None and _count_changed(self._last, findings):
                findings = replace(findings, persons=self._partial.persons_in(frame))
                self._persons_at = at
                self.counts.confirmed += 1
                persons = True
        self.counts.persons += int(persons)
        self._last = findings
        self._last_emit_at = at
        return findings


def _count_changed(before: SceneFindings, now: SceneFindings) -> bool:
    """Fresh faces with carried person boxes make a different number of people than before."""
    return len(people_in(now)) != len(people_in(before))
