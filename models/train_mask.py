"""Train the project's mask classifier and export it to ``models/mask-classifier.onnx``.

Usage (CPU only, about 8-15 minutes on 2 cores)::

    .venv/bin/pip install -e '.[train]'
    .venv/bin/python models/train_mask.py --data ../shared/data/mask            # three classes
    .venv/bin/python models/train_mask.py --data ../shared/data/mask --classes 2  # the old two

What it does, deterministically (seed 20240601 unless ``--seed``):

1. lists ``DATA/with_mask`` and ``DATA/without_mask`` and splits them by a hash of the file name
   (``tools.datasplit``: 70 % train, 10 % val, 20 % test); with three classes (the default) it
   adds the third, ``mask_worn_wrong``, synthesised in memory from every ``without_mask`` image
   (``models/synth_worn_wrong.py``; each in its source image's split), and labels the real
   worn-wrong photos that ``models/eval/worn_wrong_real.csv`` names among ``with_mask`` as
   ``mask_worn_wrong`` in their own split (train: learnt from; val: picks the epoch; test: held
   out, and measured on their own as well); ``--proper-share`` adds
   synthetic masks worn properly as ``with_mask`` (train split only: val and test ``with_mask``
   stay real photos), ``--real-share`` gives that share of the worn-wrong faces a real mask
   moved from a ``with_mask`` photo of the same split instead of a drawn one,
   ``--with-mask-weight`` / ``--worn-wrong-weight`` weight the loss;
2. decodes every image once and runs the shipped face detector on it (``models/manifest.json``
   ``face-detector``, CenterFace) so that the classifier learns on the crops the agent will feed
   it: per image the whole image (80x80), the best face box grown by 1.45 (80x80, for random
   crops) and the exact deployment view (box grown by ``crop_expand`` 1.2, 64x64; the whole image
   when no face is found);
3. trains three small depthwise-separable CNNs (about 0.1 M parameters each; seeds S, S+1, S+2)
   on 64x64 views, half whole images and half face crops, with light augmentation: random resized
   crop (45-100 % of the area, aspect 0.8-1.25), horizontal flip, hue/saturation and
   brightness/contrast jitter, grey-scale and occasional down-scaling to 12-32 px (faces far from
   the camera are small);
4. keeps each network's epoch with the best val accuracy on the deployment view and exports the
   ensemble as one ONNX file (input ``input`` Nx3x64x64 RGB, ``(x - 127.5) / 127.5``; output
   ``prob`` Nx2 or Nx3: softmax averaged over the three networks and over the crop and its mirror
   image, in the order of ``LABELS``: without_mask, with_mask[, mask_worn_wrong]);
5. re-measures every split with the exported ONNX file in onnxruntime (the numbers that ship),
   both on the deployment view and on whole images (three classes: per-class precision and recall
   of the agent's verdict, ``agent.vision.findings.verdict_of``, a 3x3 confusion matrix, and the
   two-class figures masked vs not), and the real worn-wrong photos; writes
   ``models/metrics/mask-classifier.json`` and prints it.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synth_worn_wrong import (  # noqa: E402  (beside this script)
    REAL_WORN_WRONG,
    LandmarkFinder,
    held_out_worn_wrong_names,
    real_worn_wrong_names,
    synthesise,
)

from agent.vision.findings import FaceDetector, Frame, verdict_of  # noqa: E402
from agent.vision.inference import families  # noqa: E402
from agent.vision.inference.families.mask_classifier import crop_face  # noqa: E402
from agent.vision.manifest import resolve  # noqa: E402
from tools.datasplit import LabelledImage, list_images, split_of  # noqa: E402
from tools.eval_mask import LABELS, VERDICT_INDEX, WORN_WRONG, class_figures  # noqa: E402

# LABELS (tools.eval_mask): the output order, the manifest ``labels``; two-class: the first two.

SIZE = 64
STORE = 80
MEAN = 127.5
STD = 127.5
DEFAULT_SEED = 20240601
TRAIN_EXPAND = 1.45
"""Training crops around detected faces are this loose; random crops then tighten them."""

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Views:
    """Every image decoded once, as the views training and evaluation need."""

    whole: U8
    """N x STORE x STORE: the whole image (augmented for training; the no-face fallback)."""
    det_train: U8
    """N x STORE x STORE: the detector's face box grown by TRAIN_EXPAND (whole image if none)."""
    det_eval: U8
    """N x SIZE x SIZE: exactly what the agent feeds: box grown by crop_expand, or whole image."""
    found: npt.NDArray[np.bool_]
    labels: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Item:
    """One labelled image in memory."""

    image: Frame
    label: int


def decoded(images: list[LabelledImage]) -> list[Item]:
    out = []
    for item in images:
        bgr = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f"cannot decode image {item.path}")
        out.append(Item(np.asarray(bgr, dtype=np.uint8), item.label))
    return out


def load(images: list[Item], faces: FaceDetector | None, expand: float) -> Views:
    """Find each image's face with the shipped detector (when given); make the views."""
    n = len(images)
    whole = np.empty((n, STORE, STORE, 3), dtype=np.uint8)
    det_train = np.empty_like(whole)
    det_eval = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    found = np.zeros(n, dtype=np.bool_)
    for i, item in enumerate(images):
        image = item.image
        whole[i] = _rgb(image, STORE)
        boxes = faces.detect(image) if faces is not None else []
        if boxes:
            best = max(boxes, key=lambda b: b.score)
            found[i] = True
            det_train[i] = _rgb(crop_face(image, best, TRAIN_EXPAND), STORE)
            det_eval[i] = _rgb(crop_face(image, best, expand), SIZE)
        else:
            det_train[i] = whole[i]
            det_eval[i] = _rgb(image, SIZE)
    labels = np.asarray([item.label for item in images], dtype=np.int64)
    return Views(whole, det_train, det_eval, found, labels)


def _rgb(bgr: U8, size: int) -> U8:
    return _u8(cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)[:, :, ::-1])


def _u8(a: object) -> U8:
    return np.asarray(a, dtype=np.uint8)


def augment(img: U8, rng: np.random.Generator) -> U8:
    """One training view of a stored image."""
    area = rng.uniform(0.45, 1.0) * STORE * STORE
    ratio = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
    w = min(STORE, round(math.sqrt(area * ratio)))
    h = min(STORE, round(math.sqrt(area / ratio)))
    x0 = int(rng.integers(0, STORE - w + 1))
    y0 = int(rng.integers(0, STORE - h + 1))
    out = _u8(cv2.resize(img[y0 : y0 + h, x0 : x0 + w], (SIZE, SIZE), interpolation=cv2.INTER_AREA))
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if rng.random() < 0.3:
        small = int(rng.integers(12, 33))
        tiny = cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA)
        out = _u8(cv2.resize(tiny, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR))
    if rng.random() < 0.5:  # hue and saturation: masks come in every colour and pattern
        hsv = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2HSV).astype(np.int16)
        hsv[:, :, 0] = (hsv[:, :, 0] + int(rng.integers(-12, 13))) % 180
        hsv[:, :, 1] = np.clip(hsv[:, :, 1] * rng.uniform(0.6, 1.4), 0, 255)
        out = _u8(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB))
    f = out.astype(np.float32)
    if rng.random() < 0.1:
        f = np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2)
    contrast = rng.uniform(0.7, 1.3)
    brightness = rng.uniform(-30.0, 30.0)
    f = (f - f.mean()) * contrast + f.mean() + brightness
    return _u8(np.clip(f, 0, 255))


def centre(img: U8) -> U8:
    """An evaluation view at SIZE x SIZE."""
    if img.shape[0] == SIZE and img.shape[1] == SIZE:
        return img
    return _u8(cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA))


def to_tensor(batch: U8) -> torch.Tensor:
    x = (batch.astype(np.float32) - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def sep(cin: int, cout: int, stride: int) -> nn.Sequential:
    """Depthwise 3x3 + pointwise 1x1, each with batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU(inplace=True),
        nn.Conv2d(cin, cout, 1, 1, 0, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class MaskNet(nn.Module):
    """64x64 RGB -> ``classes`` logits (in the order of ``LABELS``)."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 24, 3, 2, 1, bias=False),  # 32
            nn.BatchNorm2d(24),
            nn.ReLU(inplace=True),
            sep(24, 48, 1),
            sep(48, 64, 2),  # 16
            sep(64, 64, 1),
            sep(64, 128, 2),  # 8
            sep(128, 128, 1),
            sep(128, 192, 2),  # 4
            sep(192, 192, 1),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(192, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(x))
        return out


class Ensemble(nn.Module):
    """Several members' mirrored probabilities, averaged: what is exported."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList([WithSoftmax(m) for m in members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = torch.stack([m(x) for m in self.members]).mean(dim=0)
        return out


class WithSoftmax(nn.Module):
    """What is exported: probabilities, averaged over the crop and its mirror image."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        direct = torch.softmax(self.net(x), dim=1)
        mirrored = torch.softmax(self.net(torch.flip(x, dims=[3])), dim=1)
        out: torch.Tensor = (direct + mirrored) / 2.0
        return out


def predict_torch(net: nn.Module, xs: U8) -> F32:
    model = WithSoftmax(net).eval()
    probs: list[F32] = []
    with torch.no_grad():
        for i in range(0, len(xs), 256):
            batch = np.stack([centre(x) for x in xs[i : i + 256]])
            probs.append(model(to_tensor(batch)).numpy())
    return np.concatenate(probs).astype(np.float32)


def predict_onnx(path: Path, xs: U8) -> F32:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    probs: list[F32] = []
    for i in range(0, len(xs), 256):
        batch = np.stack([centre(x) for x in xs[i : i + 256]])
        out = session.run(["prob"], {"input": to_tensor(batch).numpy()})[0]
        probs.append(np.asarray(out))
    return np.concatenate(probs).astype(np.float32)


def predicted(probs: F32) -> npt.NDArray[np.int64]:
    """The agent's verdict as a label index: masked from P(masked) 0.5 (two classes: that
    alone), else the likelier of worn wrong and no mask (``verdict_of``)."""
    if probs.shape[1] == 2:
        return (probs[:, 1] >= 0.5).astype(np.int64)
    return np.asarray(
        [VERDICT_INDEX[verdict_of(float(p[1]), float(p[WORN_WRONG]))] for p in probs],
        dtype=np.int64,
    )


def metrics(probs: F32, ys: npt.NDArray[np.int64]) -> dict[str, Any]:
    """n, accuracy, per-class recall and precision of the agent's verdict; with three classes
    also the confusion matrix (rows true, columns predicted, ``LABELS`` order) and the two-class
    figures: masked (P(masked) >= 0.5) against everything else."""
    k = probs.shape[1]
    pred = predicted(probs)
    out: dict[str, Any] = {"n": len(ys), "accuracy": round(float((pred == ys).mean()), 4)}
    out.update(class_figures(pred, ys, k, confusion=k == 3))
    if k == 3:
        masked, truly = pred == 1, ys == 1
        out["masked_vs_not"] = {
            "accuracy": round(float((masked == truly).mean()), 4),
            "recall_masked": round(int((masked & truly).sum()) / max(1, int(truly.sum())), 4),
            "recall_not_masked": round(
                int((~masked & ~truly).sum()) / max(1, int((~truly).sum())), 4
            ),
        }
    return out


def export(net: nn.Module, path: Path) -> None:
    net.eval()
    dummy = torch.zeros(1, 3, SIZE, SIZE)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        (dummy,),
        str(path),
        input_names=["input"],
        output_names=["prob"],
        dynamic_axes={"input": {0: "N"}, "prob": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )


def train_member(
    args: argparse.Namespace, data: dict[str, Views], seed: int, started: float
) -> tuple[nn.Module, int]:
    """Train one network from ``seed``; keep its epoch with the best val accuracy."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train = data["train"]
    y_train = train.labels
    net = MaskNet(args.classes)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * math.ceil(len(y_train) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    weights = torch.ones(args.classes)
    weights[1] = args.with_mask_weight
    if args.classes == 3:
        weights[WORN_WRONG] = args.worn_wrong_weight
    loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=0.05)
    best_acc, best_epoch, best_state = -1.0, -1, copy.deepcopy(net.state_dict())
    for epoch in range(args.epochs):
        net.train()
        order = rng.permutation(len(y_train))
        total = 0.0
        for i in range(0, len(order), args.batch):
            idx = order[i : i + args.batch]
            batch = np.stack(
                [
                    augment(train.det_train[j] if rng.random() < 0.5 else train.whole[j], rng)
                    for j in idx
                ]
            )
            logits = net(to_tensor(batch))
            loss = loss_fn(logits, torch.from_numpy(y_train[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        val = metrics(predict_torch(net, data["val"].det_eval), data["val"].labels)
        print(
            f"seed {seed} epoch {epoch + 1}/{args.epochs} loss {total / len(y_train):.4f} "
            f"val acc {val['accuracy']:.4f} ({time.monotonic() - started:.0f} s)",
            flush=True,
        )
        if val["accuracy"] > best_acc:
            best_acc, best_epoch = val["accuracy"], epoch + 1
            best_state = copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    return net.eval(), best_epoch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "mask")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "mask-classifier.onnx")
    parser.add_argument(
        "--metrics", type=Path, default=ROOT / "models" / "metrics" / "mask-classifier.json"
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--members", type=int, default=3, help="Networks in the ensemble.")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--crop-expand", type=float, default=1.2)
    parser.add_argument("--classes", type=int, choices=[2, 3], default=3)
    parser.add_argument(
        "--worn-wrong-weight", type=float, default=1.0, help="Loss weight of mask_worn_wrong."
    )
    parser.add_argument(
        "--with-mask-weight", type=float, default=1.0, help="Loss weight of with_mask."
    )
    parser.add_argument(
        "--proper-share",
        type=float,
        default=0.0,
        help="Share of the synthesised faces also drawn with a mask worn properly (as with_mask).",
    )
    parser.add_argument(
        "--real-share",
        type=float,
        default=0.0,
        help="Share of the worn-wrong faces given a real mask moved from a with_mask photo "
        "of the same split instead of a drawn one.",
    )
    parser.add_argument(
        "--no-detector", action="store_true", help="Train on whole images only (no face crops)."
    )
    args = parser.parse_args(argv)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(args.threads)
    started = time.monotonic()

    faces = None
    if not args.no_detector:
        spec, path = resolve(args.models_dir, "face-detector")
        faces = families.make_face_detector(spec, path, args.threads)
    real_wrong = list(real_worn_wrong_names()) if args.classes == 3 else []
    worn_wrong = frozenset(real_wrong)
    items: dict[str, list[Item]] = {}
    for s in ("train", "val", "test"):
        listed = [
            LabelledImage(i.path, WORN_WRONG) if i.label == 1 and i.path.name in worn_wrong else i
            for i in list_images(args.data, s)
        ]
        items[s] = decoded(listed)
    if args.classes == 3:
        finder = LandmarkFinder(args.models_dir, args.threads)
        made_all = synthesise(
            args.data,
            "all",
            seed=args.seed,
            finder=finder,
            proper_share=args.proper_share,
            real_share=args.real_share,
            donor_exclude=worn_wrong,
        )
        for made in made_all:
            if made.style == "proper" and made.split != "train":
                continue  # controls train only: val and test with_mask stay real photos
            label = 1 if made.style == "proper" else WORN_WRONG
            items[made.split].append(Item(made.image, label))
    data = {s: load(its, faces, args.crop_expand) for s, its in items.items()}
    for s, views in data.items():
        counts = np.bincount(views.labels, minlength=args.classes).tolist()
        print(
            f"{s}: {len(views.labels)} images {dict(zip(LABELS, counts, strict=False))}, "
            f"face found in {int(views.found.sum())} ({time.monotonic() - started:.0f} s)",
            flush=True,
        )
    members: list[nn.Module] = []
    best_epochs: list[int] = []
    for k in range(args.members):
        net, best_epoch = train_member(args, data, args.seed + k, started)
        members.append(net)
        best_epochs.append(best_epoch)
    n_params = sum(p.numel() for m in members for p in m.parameters())
    export(Ensemble(members), args.out)
    result: dict[str, Any] = {
        "model": args.out.name,
        "labels": list(LABELS[: args.classes]),
        "data": os.path.relpath(args.data, ROOT),
        "split": "sha256('<class>/<file>')[:8] % 10: 0-6 train, 7 val, 8-9 test",
        "seed": args.seed,
        "members": args.members,
        "member_seeds": [args.seed + k for k in range(args.members)],
        "epochs": args.epochs,
        "best_epochs": best_epochs,
        "parameters": n_params,
        "size_bytes": args.out.stat().st_size,
        "train_seconds": round(time.monotonic() - started, 1),
        "crop_expand": args.crop_expand,
        "measured_with": (
            "onnxruntime on the exported file; detector_crop = the agent's path (shipped face "
            "detector, best box grown by crop_expand, whole image when no face), whole_image = "
            "the whole image resized to 64x64"
        ),
        "splits": {
            s: {
                "detector_crop": metrics(predict_onnx(args.out, v.det_eval), v.labels),
                "whole_image": metrics(predict_onnx(args.out, v.whole), v.labels),
                "face_found": round(float(v.found.mean()), 4),
            }
            for s, v in data.items()
        },
    }
    if args.classes == 3:
        result["synthetic"] = (
            "mask_worn_wrong in every split = models/synth_worn_wrong.py on that split's "
            f"without_mask images (seed {args.seed}); the split's real images are the rest"
        )
        result["worn_wrong_weight"] = args.worn_wrong_weight
        result["with_mask_weight"] = args.with_mask_weight
        result["proper_share"] = args.proper_share
        result["real_share"] = args.real_share
        held_out = held_out_worn_wrong_names()
        real = decoded(
            [LabelledImage(args.data / "with_mask" / name, WORN_WRONG) for name in held_out]
        )
        views = load(real, faces, args.crop_expand)
        probs = predict_onnx(args.out, views.det_eval)
        result["real_worn_wrong"] = {
            "source": os.path.relpath(REAL_WORN_WRONG, ROOT),
            "note": "the test split's real photos of a mask worn wrong (held out)",
            "detector_crop": metrics(probs, views.labels),
            "photos": [
                {
                    "file": name,
                    "split": split_of("with_mask", name),
                    "p": [round(float(x), 4) for x in p],
                }
                for name, p in zip(held_out, probs, strict=True)
            ],
        }
    args.metrics.parent.mkdir(parents=True, exist_ok=True)
    args.metrics.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
