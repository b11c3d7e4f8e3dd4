"""int8 static quantisation of a shipped ONNX model with onnxruntime.quantization (QDQ, per-channel).

Usage::

    .venv/bin/python models/quantise.py face-detector OUT.onnx     # calibrated on ../shared scenes
    .venv/bin/python models/quantise.py mask-classifier OUT.onnx   # calibrated on ../shared masks

Calibration images (never copied into the repository): the face detector sees the photos of
``../shared/data/scenes`` fitted into 640x480 frames; the mask classifier sees crops of the
*train* split of ``../shared/data/mask`` (the held-out split stays untouched). The output is only
shipped when its measured accuracy stays within 1 point of the float model (see
docs/PERFORMANCE.md, "int8"); the script itself makes no claim.
Needs the ``onnx`` package (``pip install -e '.[train]'``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent.vision.capture.frames import fit  # noqa: E402
from agent.vision.inference.families.centerface import fit as centerface_fit  # noqa: E402
from agent.vision.inference.families.preprocess import to_tensor  # noqa: E402
from agent.vision.manifest import ModelSpec, resolve  # noqa: E402
from tools.datasplit import list_images  # noqa: E402

SHARED = REPO.parent / "shared"
MASK_CALIBRATION = 300
MIN_OPSET = 13


class _Reader(CalibrationDataReader):  # type: ignore[misc]
    def __init__(self, name: str, tensors: Iterator[np.ndarray]) -> None:
        self._name = name
        self._tensors = tensors

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._tensors, None)
        return None if tensor is None else {self._name: tensor}


def _scene_tensors(spec: ModelSpec) -> Iterator[np.ndarray]:
    for path in sorted((SHARED / "data" / "scenes").glob("*.jpg")):
        image = cv2.imread(str(path))
        if image is None:
            continue
        frame = np.zeros((480, 640, 3), np.uint8)
        fitted = fit(np.asarray(image, dtype=np.uint8), 640, 480)
        frame[: fitted.shape[0], : fitted.shape[1]] = fitted
        padded, _ = centerface_fit(frame, spec.input.width, spec.input.height)
        yield to_tensor(padded, spec.input)


def _mask_tensors(spec: ModelSpec) -> Iterator[np.ndarray]:
    items = list_images(SHARED / "data" / "mask", "train")
    step = max(1, len(items) // MASK_CALIBRATION)
    for item in items[::step]:
        image = cv2.imread(str(item.path))
        if image is None:
            continue
        size = (spec.input.width, spec.input.height)
        resized = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
        yield to_tensor(resized, spec.input)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=("face-detector", "mask-classifier"))
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    spec, path = resolve(REPO / "models", args.model)
    pre = args.out.with_suffix(".pre.onnx")
    model = onnx.load(str(path))
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < MIN_OPSET:  # per-channel DequantizeLinear needs the axis attribute (opset 13)
        model = version_converter.convert_version(model, MIN_OPSET)
    onnx.save(model, str(pre))
    quant_pre_process(str(pre), str(pre), skip_symbolic_shape=True)
    input_name = onnx.load(str(pre)).graph.input[0].name
    tensors = _scene_tensors(spec) if args.model == "face-detector" else _mask_tensors(spec)
    quantize_static(
        str(pre),
        str(args.out),
        _Reader(input_name, tensors),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )
    pre.unlink()
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
