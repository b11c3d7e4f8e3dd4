"""Scene inference: face detector -> face crops -> batched mask classifier (+ person detector).

:func:`load_scene_inference` resolves the configured models through ``models_dir/manifest.json``
(sha256 checked before onnxruntime sees a file) and builds an :class:`OnnxSceneInference`. Any
problem (missing file, checksum, wrong task, unknown family, unloadable file) is a
:class:`~agent.vision.manifest.ModelError` whose message says what to do.

When the face detector's family classifies masks itself (``Box.mask_prob`` set, e.g. AIZOO) that
probability is used (P(mask worn wrong) 0) and the crop is not classified again. A face found
again at nearly the same place within :data:`MASK_REUSE_S` keeps both probabilities it was given
then (the gate runs the
detector several times a second; the face has not changed in a fraction of a second).

A whole-frame analysis whose people count is above ``vision.crowd_tile_above`` (a crowd, never a
desk scene) runs the face detector again on upscaled overlapping tiles and adds the faces found
only there (:mod:`agent.vision.inference.crowd`); :attr:`OnnxSceneInference.tiled` counts those
analyses. Before that, an analysis with person boxes looks closer at the heads of small people
without a face (:mod:`agent.vision.inference.closer`: faces at the back of the queue; the faces
found there count towards a crowd), and the analyses after it without person boxes (the gate
carries those boxes) look at the same windows for ``keep_s``, so those faces do not blink between
two person detections; :attr:`OnnxSceneInference.closer` counts the analyses that looked.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from agent.vision.config import VisionConfig
from agent.vision.findings import (
    Box,
    FaceDetector,
    FaceFinding,
    Frame,
    MaskClassifier,
    MaskProbs,
    PersonDetector,
    SceneFindings,
)
from agent.vision.geometry import iou
from agent.vision.inference import families
from agent.vision.inference.closer import CloserSettings, look_closer, looks
from agent.vision.inference.crowd import CrowdSettings, detect_tiled, merge
from agent.vision.inference.families.mask_classifier import DEFAULT_CROP_EXPAND, crop_face
from agent.vision.inference.motion import Region
from agent.vision.manifest import label, resolve
from agent.vision.people import attach

MASK_REUSE_S = 1.0
"""A face found again at nearly the same place within this long keeps its mask probability
(and P(mask worn wrong)) instead of being classified again (a gated detection runs several times a second)..."""
MASK_REUSE_IOU = 0.6
"""..."nearly the same place": IoU with the earlier box at least this."""


class OnnxSceneInference:
    """A :class:`~agent.vision.findings.SceneInference` over ONNX models."""

    def __init__(
        self,
        faces: FaceDetector,
        masks: MaskClassifier,
        persons: PersonDetector | None = None,
        *,
        face_min_score: float = 0.5,
        crop_expand: float = DEFAULT_CROP_EXPAND,
        models: dict[str, str] | None = None,
        crowd: CrowdSettings | None = None,
        closer: CloserSettings | None = None,
    ) -> None:
        self.models: dict[str, str] = dict(models or {})
        """The loaded models by task (``face``, ``mask``, ``person``): their manifest
        :func:`~agent.vision.manifest.label` (the health event's ``models``)."""
        self._faces = faces
        self._masks = masks
        self._persons = persons
        self._face_min_score = face_min_score
        self._classified: list[tuple[Box, MaskProbs, float]] = []
        """Recently classified faces: (box, probabilities, when first classified)."""
        self._crop_expand = crop_expand
        self._crowd = crowd if crowd is not None and crowd.enabled else None
        self.tiled = 0
        """Analyses that were crowded and ran the face detector on tiles as well."""
        self._closer = closer if closer is not None and closer.enabled else None
        self.closer = 0
        """Analyses that looked closer at small faceless people."""
        self._windows: tuple[tuple[tuple[Region, float], ...], float] = ((), 0.0)
        """The closer look's windows from the last person boxes, and when those were found."""

    def analyse(self, frame: Frame, at: float) -> SceneFindings:
        """Faces with P(masked) and P(mask worn wrong), and person boxes when a person detector is configured."""
        return self.analyse_part(frame, at, None, True)

    def analyse_part(
        self, frame: Frame, at: float, regions: tuple[Region, ...] | None, persons: bool
    ) -> SceneFindings:
        """Faces found within ``regions`` (the whole frame when None), in frame pixels, with
        P(masked) from crops of the whole frame; person boxes only when ``persons`` (and a person
        detector is configured), else None. See :mod:`agent.vision.inference.gate`. A crowded
        whole frame is tiled as well (:mod:`agent.vision.inference.crowd`)."""
        started = time.perf_counter()
        boxes: list[Box] = [
            b for b in self._detect_faces(frame, regions) if b.score >= self._face_min_score
        ]
        people = self.persons_in(frame) if persons else None
        windows = self._closer_windows(frame, boxes, people, at)
        if windows:
            assert self._closer is not None
            boxes = merge(boxes, look_closer(self._faces, frame, windows, self._closer))
            self.closer += 1
        if regions is None and self._crowded(boxes, people, frame):
            assert self._crowd is not None
            boxes = merge(boxes, detect_tiled(self._faces, frame, self._crowd))
            self.tiled += 1
        known = [self._recent(b, at) for b in boxes]
        todo = [b for b, k in zip(boxes, known, strict=True) if b.mask_prob is None and k is None]
        probs = iter(
            self._masks.classify([crop_face(frame, b, self._crop_expand) for b in todo])
            if todo
            else []
        )
        given = [
            MaskProbs(b.mask_prob)
            if b.mask_prob is not None
            else k
            if k is not None
            else next(probs)
            for b, k in zip(boxes, known, strict=True)
        ]
        faces = tuple(
            FaceFinding(box=b, mask_prob=p.masked, worn_wrong_prob=p.worn_wrong)
            for b, p in zip(boxes, given, strict=True)
        )
        self._classified = [
            (b, p, at if k is None else since)
            for b, p, k, since in zip(boxes, given, known, self._since(boxes, at), strict=True)
        ]
        return SceneFindings(
            at=at,
            faces=faces,
            persons=people,
            inference_ms=(time.perf_counter() - started) * 1000.0,
            frame_width=int(frame.shape[1]),
            frame_height=int(frame.shape[0]),
        )

    def persons_in(self, frame: Frame) -> tuple[Box, ...] | None:
        """The person detector alone on the whole frame (None when none is configured)."""
        return tuple(self._persons.detect(frame)) if self._persons is not None else None

    def _closer_windows(
        self, frame: Frame, boxes: list[Box], people: tuple[Box, ...] | None, at: float
    ) -> list[tuple[Region, float]]:
        """Where to look closer: with fresh person boxes, at their small faceless people (kept);
        without, at the windows kept from the last person boxes while they are at most
        ``closer.keep_s`` old (the same heads between two person detections), else nowhere."""
        if self._closer is None:
            return []
        if people is not None:
            seen = [FaceFinding(b, 0.0) for b in boxes]
            w, h = int(frame.shape[1]), int(frame.shape[0])
            self._windows = (tuple(looks(people, seen, w, h, self._closer)), at)
        kept, since = self._windows
        return list(kept) if 0.0 <= at - since <= self._closer.keep_s else []

    def _crowded(self, faces: list[Box], persons: tuple[Box, ...] | None, frame: Frame) -> bool:
        """Tiling is on and these whole-frame faces and person boxes make more people than
        ``crowd.above``."""
        if self._crowd is None:
            return False
        if max(len(faces), len(persons or ())) > self._crowd.above:
            return True
        if len(faces) + len(persons or ()) <= self._crowd.above:
            return False
        found = [FaceFinding(b, 0.0) for b in faces]
        w, h = int(frame.shape[1]), int(frame.shape[0])
        return len(attach(persons or (), found, w, h)) > self._crowd.above

    def _match(self, box: Box, at: float) -> tuple[MaskProbs, float] | None:
        """(probabilities, when classified) of a face classified within :data:`MASK_REUSE_S` at
        nearly the same place (IoU >= :data:`MASK_REUSE_IOU`), else None."""
        for old, prob, when in self._classified:
            if at - when < MASK_REUSE_S and iou(old, box) >= MASK_REUSE_IOU:
                return prob, when
        return None

    def _recent(self, box: Box, at: float) -> MaskProbs | None:
        hit = self._match(box, at)
        return hit[0] if hit is not None else None

    def _since(self, boxes: list[Box], at: float) -> list[float]:
        return [hit[1] if (hit := self._match(b, at)) is not None else at for b in boxes]

    def _detect_faces(self, frame: Frame, regions: tuple[Region, ...] | None) -> list[Box]:
        if regions is None:
            return self._faces.detect(frame)
        found: list[Box] = []
        for x1, y1, x2, y2 in regions:
            found += [
                replace(b, x1=b.x1 + x1, y1=b.y1 + y1, x2=b.x2 + x1, y2=b.y2 + y1)
                for b in self._faces.detect(frame[y1:y2, x1:x2])
            ]
        return found


def load_scene_inference(vision: VisionConfig) -> OnnxSceneInference:
    """The configured face detector, mask classifier and optional person detector."""
    models_dir = Path(vision.models_dir)
    face_spec, face_path = resolve(models_dir, vision.face_model)
    mask_spec, mask_path = resolve(models_dir, vision.mask_model)
    faces = families.make_face_detector(face_spec, face_path, vision.threads)
    masks = families.make_mask_classifier(mask_spec, mask_path, vision.threads)
    persons = None
    models = {"face": label(face_spec), "mask": label(mask_spec)}
    if vision.person_model is not None:
        person_spec, person_path = resolve(models_dir, vision.person_model)
        persons = families.make_person_detector(person_spec, person_path, vision.threads)
        models["person"] = label(person_spec)
    return OnnxSceneInference(
        faces,
        masks,
        persons,
        face_min_score=vision.face_min_score,
        crop_expand=mask_spec.thresholds.get("crop_expand", DEFAULT_CROP_EXPAND),
        models=models,
        crowd=CrowdSettings(
            grid=vision.crowd_tiles,
            above=vision.crowd_tile_above,
            face_min_score=vision.crowd_face_min_score,
            input_size=(face_spec.input.width, face_spec.input.height),
        ),
        closer=CloserSettings(
            below_px=vision.closer_below_px,
            max_looks=vision.closer_looks,
            face_min_score=vision.closer_face_min_score,
        ),
    )
