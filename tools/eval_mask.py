"""Mask evaluation (``make eval-mask DATA=DIR [BASELINE=aizoo]``): the shipped models on labelled faces.

Usage::

    python -m tools.eval_mask --data DIR [--split all|train|val|test] [--baseline aizoo]
        [--worn-wrong-real models/eval/worn_wrong_real.csv] [--synth-worn-wrong]
    python -m tools.eval_mask --scenes models/eval/scene_faces.csv [--baseline aizoo]
    python -m tools.eval_mask --real models/eval/worn_wrong_real.csv [--mask-dir DIR]
        [--scene-faces models/eval/scene_faces.csv]

``DIR`` holds ``with_mask/*.jpg|png`` and ``without_mask/*.jpg|png``; each image is one face crop.
Every image goes through the same path for every model: detect the face first and classify the
best (highest-score) face; when no face is found, classify the whole image.

- shipped (``mask-classifier`` via ``models/manifest.json``): CenterFace finds the face, the crop
  (grown by the manifest ``crop_expand``) goes to the mask classifier; no face: whole image.
- ``aizoo`` (reference, ``../shared/models/reference``): the AIZOO SSD detects and classifies in
  one pass; the best box above its score threshold is used; no face: the most face-like anchor
  over the whole image (the same detector with no score threshold).

Masks worn wrong (``mask_worn_wrong``, the third class of a three-class mask model):
``--worn-wrong-real CSV`` evaluates the ``with_mask`` photos the CSV names (column ``file``) as
worn wrong instead of masked; ``--synth-worn-wrong`` adds the faces ``models/synth_worn_wrong.py``
makes from the split's ``without_mask`` images (in memory, same seed as training).

``--real CSV`` evaluates only *real* photographs of a mask worn wrong held out of training: the
``with_mask`` photos the CSV names in the test split (training learns from those of the train
split, as ``mask_worn_wrong``), and with ``--scene-faces`` the scene faces labelled
``mask_worn_wrong``. One line each (where it comes
from, the verdict, P(masked), P(mask worn wrong)), then the share called worn wrong (the issue's
target) and the share called not compliant (worn wrong or unmasked); JSON last.

``--scenes CSV`` evaluates faces in ``../shared/data/scenes`` labelled by hand (columns
``scene,x1,y1,x2,y2,label``, label one of :data:`LABELS`): each box, grown by :data:`SCENE_CONTEXT` for context, is cut out of
its scene in memory and evaluated like an image of ``DIR``.

Prints a table, then one JSON line last: ``n``, ``accuracy``, ``recall_with_mask``,
``recall_without_mask``, precisions, ``face_found`` (share of images where a face was detected),
and with ``--baseline`` the same figures under ``"baseline"``. These are masked (P(masked) >= 0.5)
against not masked, for every model; a face with a mask worn wrong counts as not masked. A
three-class model adds ``three_class``: per-class precision and recall of the agent's verdict
(``agent.vision.findings.verdict_of``) and the confusion matrix (rows the true class, columns the
verdict, both in the order without_mask, with_mask, mask_worn_wrong). Crops never leave memory.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from agent.vision.config import VisionConfig
from agent.vision.findings import Box, FaceDetector, Frame, verdict_of
from agent.vision.inference import families
from agent.vision.inference.families.aizoo import AizooDetector
from agent.vision.inference.families.mask_classifier import OnnxMaskClassifier, crop_face
from agent.vision.manifest import InputSpec, ModelError, ModelSpec, resolve, sha256_file
from tools.datasplit import Split, list_images, split_of

SCENE_CONTEXT = 1.6
"""Scene faces are cut out with this much context (box side x 1.6) before evaluation."""
AIZOO_FILE = "aizoo_face_mask_detection.onnx"
AIZOO_SHA256 = "320d786187c85a4ec20ec05e87841dbb098011ac6e03b0b76befc13196ade3a0"
AIZOO_SCORE = 0.5
LABELS = ("without_mask", "with_mask", "mask_worn_wrong")
"""Sample labels (index); a two-class model has the first two."""
WORN_WRONG = 2
VERDICT_INDEX = {"unmasked": 0, "masked": 1, "worn_wrong": 2}
SYNTH_SCRIPT = Path(__file__).resolve().parent.parent / "models" / "synth_worn_wrong.py"
EXIT_DATA = 66  # EX_NOINPUT
EXIT_MODEL = 69  # EX_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class Prediction:
    """P(masked) for one image, and whether a face was detected in it."""

    mask_prob: float
    face_found: bool
    worn_wrong_prob: float = 0.0
    """P(mask worn wrong); 0 from two-class models."""


class MaskPredictor(Protocol):
    """One model (or model pair) under evaluation."""

    name: str
    classes: int
    """2 (masked, unmasked) or 3 (also mask worn wrong)."""

    def predict(self, image: Frame) -> Prediction:
        """Detect the face first, fall back to the whole image; P(masked)."""


class ShippedPredictor:
    """The shipped face detector + mask classifier."""

    def __init__(
        self, faces: FaceDetector, masks: OnnxMaskClassifier, name: str, classes: int = 2
    ) -> None:
        self.name = name
        self.classes = classes
        self._faces = faces
        self._masks = masks

    def predict(self, image: Frame) -> Prediction:
        boxes = self._faces.detect(image)
        if boxes:
            best = max(boxes, key=lambda b: b.score)
            crop = crop_face(image, best, self._masks.crop_expand)
            probs = self._masks.classify([crop])[0]
            return Prediction(probs.masked, face_found=True, worn_wrong_prob=probs.worn_wrong)
        probs = self._masks.classify([image])[0]
        return Prediction(probs.masked, face_found=False, worn_wrong_prob=probs.worn_wrong)


class FaceMaskPredictor:
    """A detector that classifies masks itself (``Box.mask_prob``), e.g. AIZOO."""

    def __init__(self, unthresholded: FaceDetector, min_score: float, name: str) -> None:
        self.name = name
        self.classes = 2
        self._detector = unthresholded
        self._min_score = min_score

    def predict(self, image: Frame) -> Prediction:
        boxes: list[Box] = self._detector.detect(image)
        if not boxes:
            return Prediction(0.5, face_found=False)
        best = max(boxes, key=lambda b: b.score)
        prob = best.mask_prob if best.mask_prob is not None else 0.5
        return Prediction(prob, face_found=best.score >= self._min_score)


def aizoo_predictor(reference_dir: Path) -> FaceMaskPredictor:
    """The AIZOO reference model (checked by sha256), with no score threshold for the fallback."""
    path = reference_dir / AIZOO_FILE
    if not path.is_file():
        raise ModelError(
            f"baseline model {path} not found: the AIZOO reference lives in "
            "../shared/models/reference (pass --reference-dir)"
        )
    digest = sha256_file(path)
    if digest != AIZOO_SHA256:
        raise ModelError(
            f"baseline model {path} has sha256 {digest[:12]}..., expected {AIZOO_SHA256[:12]}..."
        )
    spec = ModelSpec(
        name="aizoo",
        family="aizoo",
        task="face_mask",
        file=AIZOO_FILE,
        sha256=AIZOO_SHA256,
        input=InputSpec(width=260, height=260, color="RGB", std=(255.0, 255.0, 255.0)),
        labels=("Mask", "NoMask"),
        thresholds={"score": 0.0, "nms_iou": 0.4},
        licence="MIT",
        origin="AIZOOTech/FaceMaskDetection via ../shared/models/reference (baseline only)",
        made_by="not shipped",
    )
    return FaceMaskPredictor(AizooDetector(spec, path), AIZOO_SCORE, "aizoo")


def shipped_predictor(models_dir: Path, face_model: str, mask_model: str) -> ShippedPredictor:
    face_spec, face_path = resolve(models_dir, face_model)
    mask_spec, mask_path = resolve(models_dir, mask_model)
    masks = families.make_mask_classifier(mask_spec, mask_path)
    if not isinstance(masks, OnnxMaskClassifier):
        raise ModelError(f"model {mask_model!r} is not a mask-classifier family model")
    return ShippedPredictor(
        families.make_face_detector(face_spec, face_path),
        masks,
        mask_model,
        classes=len(mask_spec.labels),
    )


@dataclass(frozen=True, slots=True)
class Scores:
    """Accuracy figures of one model on one labelled set (threshold 0.5 on P(masked))."""

    n: int
    accuracy: float
    recall_with_mask: float
    recall_without_mask: float
    precision_with_mask: float
    precision_without_mask: float
    face_found: float
    three_class: dict[str, Any] | None = None
    """Three-class models: per-class precision/recall of the verdict, confusion matrix."""

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if self.three_class is None:
            del out["three_class"]
        return out


def class_figures(
    pred: npt.NDArray[np.int64], y: npt.NDArray[np.int64], classes: int, confusion: bool
) -> dict[str, Any]:
    """Per class of the first ``classes`` :data:`LABELS`: its recall, precision and count of the
    verdicts ``pred`` against the truth ``y`` (label indexes), and with ``confusion`` the matrix
    (rows the true class, columns the verdict). Shared with models/train_mask.py."""
    out: dict[str, Any] = {}
    for k, cls in enumerate(LABELS[:classes]):
        tp = int(((pred == k) & (y == k)).sum())
        out[f"recall_{cls}"] = round(tp / max(1, int((y == k).sum())), 4)
        out[f"precision_{cls}"] = round(tp / max(1, int((pred == k).sum())), 4)
        out[f"n_{cls}"] = int((y == k).sum())
    if confusion:
        out["confusion"] = [
            [int(((y == t) & (pred == c)).sum()) for c in range(classes)] for t in range(classes)
        ]
    return out


def three_class(predictions: list[Prediction], labels: list[int]) -> dict[str, Any]:
    """Per-class precision and recall of the agent's verdict, and the confusion matrix (rows the
    true class, columns the verdict; order :data:`LABELS`)."""
    pred = np.asarray(
        [VERDICT_INDEX[verdict_of(p.mask_prob, p.worn_wrong_prob)] for p in predictions],
        dtype=np.int64,
    )
    y = np.asarray(labels, dtype=np.int64)
    accuracy = round(float((pred == y).mean()), 4) if len(y) else 0.0
    return {"accuracy": accuracy, **class_figures(pred, y, 3, confusion=True)}


def score(predictions: list[Prediction], labels: list[int], classes: int = 2) -> Scores:
    """Scores of predictions against labels (0 without mask, 1 with mask, 2 mask worn wrong):
    masked (P(masked) >= 0.5) against not masked; with ``classes`` 3 also :func:`three_class`."""
    pred = np.asarray([p.mask_prob >= 0.5 for p in predictions], dtype=np.int64)
    y = np.asarray([int(label == 1) for label in labels], dtype=np.int64)

    def ratio(num: int, den: int) -> float:
        return round(num / den, 4) if den else 0.0

    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    return Scores(
        n=len(labels),
        accuracy=ratio(tp + tn, len(labels)),
        recall_with_mask=ratio(tp, int((y == 1).sum())),
        recall_without_mask=ratio(tn, int((y == 0).sum())),
        precision_with_mask=ratio(tp, int((pred == 1).sum())),
        precision_without_mask=ratio(tn, int((pred == 0).sum())),
        face_found=ratio(sum(p.face_found for p in predictions), len(predictions)),
        three_class=three_class(predictions, labels) if classes == 3 else None,
    )


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled face image, in memory only."""

    image: Frame
    label: int


def folder_samples(
    data: Path, split: Split, skipped: list[str], worn_wrong: frozenset[str] = frozenset()
) -> Iterator[Sample]:
    """Images of a with_mask/without_mask folder; undecodable files are listed in ``skipped``;
    ``with_mask`` files named in ``worn_wrong`` are labelled mask worn wrong."""
    for item in list_images(data, split):
        image = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if image is None:
            skipped.append(str(item.path))
            continue
        label = WORN_WRONG if item.label == 1 and item.path.name in worn_wrong else item.label
        yield Sample(np.asarray(image, dtype=np.uint8), label)


def synth_module() -> ModuleType:
    """``models/synth_worn_wrong.py`` (a script beside the models, not a package module),
    loaded once."""
    spec = importlib.util.spec_from_file_location("synth_worn_wrong", SYNTH_SCRIPT)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"cannot load {SYNTH_SCRIPT}")
    if spec.name not in sys.modules:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[spec.name]


def synth_samples(data: Path, split: Split) -> Iterator[Sample]:
    """Synthetic worn-wrong faces of ``split`` (``models/synth_worn_wrong.py``, its default
    seed, the same as training's), made in memory."""
    for made in synth_module().synthesise(data, split):
        yield Sample(made.image, WORN_WRONG)


def scene_samples(csv_path: Path, scenes_dir: Path, skipped: list[str]) -> Iterator[Sample]:
    """Hand-labelled scene faces (``scene,x1,y1,x2,y2,label``), cut out with context."""
    for _, sample in _scene_crops(label_rows(csv_path), scenes_dir, skipped):
        yield sample


def label_rows(csv_path: Path) -> list[dict[str, str]]:
    """The rows of a label CSV (``#`` lines are comments)."""
    with csv_path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def _scene_crops(
    rows: list[dict[str, str]], scenes_dir: Path, skipped: list[str]
) -> Iterator[tuple[dict[str, str], Sample]]:
    """Each labelled box of ``rows``, grown by :data:`SCENE_CONTEXT`, cut out of its scene (read
    once); a row whose scene cannot be read or whose label is unknown goes to ``skipped``."""
    cache: dict[str, Frame | None] = {}
    for row in rows:
        name = row["scene"]
        if name not in cache:
            img = cv2.imread(str(scenes_dir / name), cv2.IMREAD_COLOR)
            cache[name] = None if img is None else np.asarray(img, dtype=np.uint8)
        scene = cache[name]
        if scene is None or row["label"] not in LABELS:
            skipped.append(f"{name}:{row['x1']},{row['y1']} ({row['label']})")
            continue
        box = Box(float(row["x1"]), float(row["y1"]), float(row["x2"]), float(row["y2"]), 1.0)
        crop = np.ascontiguousarray(crop_face(scene, box, SCENE_CONTEXT))
        yield row, Sample(crop, LABELS.index(row["label"]))


@dataclass(frozen=True, slots=True)
class RealVerdict:
    """What the shipped path made of one real photograph of a mask worn wrong."""

    source: str
    """``with_mask/<file>`` or ``<scene>:<x1>,<y1>``."""
    verdict: str
    prediction: Prediction


def real_samples(
    listing: Path, mask_dir: Path, scene_faces: Path | None, scenes_dir: Path, skipped: list[str]
) -> Iterator[tuple[str, Sample]]:
    """The real worn-wrong photos held out of training: the ``with_mask`` files ``listing``
    names in the test split, then the ``mask_worn_wrong`` faces of ``scene_faces``; with where
    each comes from."""
    for name in synth_module().held_out_worn_wrong_names(listing):
        image = cv2.imread(str(mask_dir / "with_mask" / name), cv2.IMREAD_COLOR)
        if image is None:
            skipped.append(str(mask_dir / "with_mask" / name))
            continue
        yield f"with_mask/{name}", Sample(np.asarray(image, dtype=np.uint8), WORN_WRONG)
    if scene_faces is None:
        return
    rows = [r for r in label_rows(scene_faces) if r["label"] == LABELS[WORN_WRONG]]
    for row, sample in _scene_crops(rows, scenes_dir, skipped):
        yield f"{row['scene']}:{row['x1']},{row['y1']}", sample


def real_verdicts(
    predictor: MaskPredictor, samples: Iterator[tuple[str, Sample]]
) -> list[RealVerdict]:
    """The predictor's verdict on each real worn-wrong photo."""
    out: list[RealVerdict] = []
    for source, sample in samples:
        p = predictor.predict(sample.image)
        out.append(RealVerdict(source, verdict_of(p.mask_prob, p.worn_wrong_prob), p))
    return out


def real_summary(verdicts: list[RealVerdict]) -> dict[str, Any]:
    """n, the share called worn wrong (recall), the share called not compliant, and the counts."""
    n = len(verdicts)
    counts = {v: sum(r.verdict == v for r in verdicts) for v in VERDICT_INDEX}
    return {
        "n": n,
        "recall_mask_worn_wrong": round(counts["worn_wrong"] / n, 4) if n else 0.0,
        "not_compliant": round((n - counts["masked"]) / n, 4) if n else 0.0,
        "verdicts": counts,
        "photos": {
            r.source: {
                "verdict": r.verdict,
                "p_masked": round(r.prediction.mask_prob, 3),
                "p_worn_wrong": round(r.prediction.worn_wrong_prob, 3),
            }
            for r in verdicts
        },
    }


def evaluate(predictors: list[MaskPredictor], samples: Iterator[Sample]) -> list[Scores]:
    """Every predictor on every sample (each image decoded once)."""
    predictions: list[list[Prediction]] = [[] for _ in predictors]
    labels: list[int] = []
    for sample in samples:
        labels.append(sample.label)
        for out, predictor in zip(predictions, predictors, strict=True):
            out.append(predictor.predict(sample.image))
    return [score(p, labels, m.classes) for p, m in zip(predictions, predictors, strict=True)]


def table(names: list[str], scores: list[Scores]) -> str:
    head = (
        f"{'model':<18}{'n':>6}{'accuracy':>10}{'rec_mask':>10}{'rec_nomask':>12}{'face_found':>12}"
    )
    rows = [
        f"{name:<18}{s.n:>6}{s.accuracy:>10.4f}{s.recall_with_mask:>10.4f}"
        f"{s.recall_without_mask:>12.4f}{s.face_found:>12.4f}"
        for name, s in zip(names, scores, strict=True)
    ]
    for name, s in zip(names, scores, strict=True):
        if s.three_class is not None:
            t = s.three_class
            rows.append(f"{name}, three classes (rows true, columns verdict):")
            rows.append(
                f"{'':<18}{'recall':>8}{'precision':>11}{'unmasked':>10}{'masked':>8}{'wrong':>7}"
            )
            for k, cls in enumerate(LABELS):
                counts = "".join(
                    f"{c:>{w}}" for c, w in zip(t["confusion"][k], (10, 8, 7), strict=True)
                )
                rows.append(
                    f"{cls:<18}{t[f'recall_{cls}']:>8.4f}{t[f'precision_{cls}']:>11.4f}{counts}"
                )
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.eval_mask", description=__doc__.splitlines()[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="Folder with with_mask/ and without_mask/.")
    source.add_argument("--scenes", type=Path, help="CSV of hand-labelled scene faces.")
    source.add_argument(
        "--real",
        type=Path,
        help="CSV naming with_mask photos of a mask worn wrong: evaluate only the held-out real "
        "worn-wrong photos (its test-split ones and --scene-faces' worn-wrong faces).",
    )
    parser.add_argument(
        "--mask-dir",
        type=Path,
        default=Path("../shared/data/mask"),
        help="With --real: the folder holding with_mask/.",
    )
    parser.add_argument(
        "--scene-faces",
        type=Path,
        default=None,
        help="With --real: the hand-labelled scene faces CSV; its mask_worn_wrong faces are added.",
    )
    parser.add_argument("--split", choices=["all", "train", "val", "test"], default="all")
    parser.add_argument(
        "--worn-wrong-real",
        type=Path,
        default=None,
        help="CSV naming with_mask photos that show a mask worn wrong (evaluated as such).",
    )
    parser.add_argument(
        "--synth-worn-wrong",
        action="store_true",
        help="Add the split's synthetic worn-wrong faces (models/synth_worn_wrong.py).",
    )
    parser.add_argument("--scenes-dir", type=Path, default=Path("../shared/data/scenes"))
    parser.add_argument("--baseline", choices=["aizoo"], default=None)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--reference-dir", type=Path, default=Path("../shared/models/reference"))
    defaults = VisionConfig()  # the models the agent runs unless configured otherwise
    parser.add_argument("--face-model", default=defaults.face_model)
    parser.add_argument("--mask-model", default=defaults.mask_model)
    args = parser.parse_args(argv)

    try:  # check the data before loading any model
        if args.data is not None:
            list_images(args.data, args.split)
        for given in (args.scenes, args.real, args.scene_faces):
            if given is not None and not given.is_file():
                raise FileNotFoundError(f"label file {given} does not exist")
    except FileNotFoundError as exc:
        print(f"eval-mask: {exc}", file=sys.stderr)
        return EXIT_DATA
    try:
        predictors: list[MaskPredictor] = [
            shipped_predictor(args.models_dir, args.face_model, args.mask_model)
        ]
        if args.baseline == "aizoo":
            predictors.append(aizoo_predictor(args.reference_dir))
    except ModelError as exc:
        print(f"eval-mask: {exc}", file=sys.stderr)
        return EXIT_MODEL

    skipped: list[str] = []
    if args.real is not None:
        return report_real(predictors[0], args, skipped)
    try:
        if args.data is not None:
            wrong: frozenset[str] = frozenset()
            if args.worn_wrong_real:  # the same reader as training's
                wrong = frozenset(synth_module().real_worn_wrong_names(args.worn_wrong_real))
            samples = folder_samples(args.data, args.split, skipped, wrong)
            described = f"{args.data} (split {args.split})"
            if wrong:
                here = [n for n in wrong if args.split in ("all", split_of("with_mask", n))]
                described += (
                    f", {len(here)} with_mask photos of it named in {args.worn_wrong_real} "
                    "labelled worn wrong"
                )
            if args.synth_worn_wrong:
                samples = chain(samples, synth_samples(args.data, args.split))
                described += ", with synthetic worn-wrong faces"
        else:
            samples = scene_samples(args.scenes, args.scenes_dir, skipped)
            described = f"{args.scenes} (scenes in {args.scenes_dir})"
        scores = evaluate(predictors, samples)
    except FileNotFoundError as exc:
        print(f"eval-mask: {exc}", file=sys.stderr)
        return EXIT_DATA
    report_skipped(skipped)
    if scores[0].n == 0:
        print(f"eval-mask: no images found in {described}", file=sys.stderr)
        return EXIT_DATA

    print(f"data: {described}")
    print(table([p.name for p in predictors], scores))
    result: dict[str, object] = {
        "data": described,
        "model": predictors[0].name,
        **scores[0].as_dict(),
        "skipped": len(skipped),
    }
    if len(predictors) > 1:
        result["baseline"] = {"model": predictors[1].name, **scores[1].as_dict()}
    print(json.dumps(result))
    return 0


def report_skipped(skipped: list[str]) -> None:
    """One line on stderr per input that could not be evaluated."""
    for item in skipped:
        print(f"eval-mask: skipped {item}: cannot decode or unknown label", file=sys.stderr)


def report_real(predictor: MaskPredictor, args: argparse.Namespace, skipped: list[str]) -> int:
    """``--real``: one line per real worn-wrong photo, the shares, JSON last."""
    try:
        samples = real_samples(args.real, args.mask_dir, args.scene_faces, args.scenes_dir, skipped)
        verdicts = real_verdicts(predictor, samples)
    except FileNotFoundError as exc:
        print(f"eval-mask: {exc}", file=sys.stderr)
        return EXIT_DATA
    report_skipped(skipped)
    if not verdicts:
        print(f"eval-mask: no real worn-wrong photos found from {args.real}", file=sys.stderr)
        return EXIT_DATA
    summary = real_summary(verdicts)
    print(f"real photos of a mask worn wrong, held out of training ({predictor.name}):")
    print(f"{'photo':<34}{'verdict':>11}{'P(masked)':>11}{'P(wrong)':>10}")
    for r in verdicts:
        p = r.prediction
        print(f"{r.source:<34}{r.verdict:>11}{p.mask_prob:>11.3f}{p.worn_wrong_prob:>10.3f}")
    print(
        f"called worn wrong {summary['verdicts']['worn_wrong']} of {summary['n']} "
        f"({summary['recall_mask_worn_wrong']:.2f}); not compliant (worn wrong or unmasked) "
        f"{summary['n'] - summary['verdicts']['masked']} ({summary['not_compliant']:.2f})"
    )
    print(json.dumps({"data": str(args.real), "model": predictor.name, **summary}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
