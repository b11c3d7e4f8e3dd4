"""Frame -> model input tensor, driven by a manifest :class:`InputSpec`; and the way back.

Every model family feeds its network through :func:`prepare`, so resizing, channel order,
normalisation and layout are decided in exactly one place, from the manifest entry:

1. resize the BGR frame to ``spec.width x spec.height``, either stretched (``"stretch"``: what
   most upstream face detectors were trained with) or aspect-preserving with padding
   (``"letterbox"``: the image sits top-left, the rest is filled with ``pad_value``);
2. reorder channels to ``spec.color``;
3. normalise ``x' = (x - mean[c]) / std[c]`` on 0..255 values, as float32;
4. lay out as ``1xCxHxW`` (NCHW) or ``1xHxWxC`` (NHWC).

The returned :class:`Letterbox` maps boxes from model-input pixels (or normalised 0..1 model
coordinates) back to frame pixels, clipped to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from agent.vision.errors import VisionError
from agent.vision.findings import Frame
from agent.vision.manifest import InputSpec

ResizeMode = Literal["stretch", "letterbox"]
FloatArray = npt.NDArray[np.float32]


class FrameError(VisionError, ValueError):
    """A frame that cannot be fed to a model (wrong shape or dtype)."""


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a frame was placed into the model input: ``input = frame * scale`` per axis."""

    scale_x: float
    scale_y: float
    input_width: int
    input_height: int
    frame_width: int
    frame_height: int

    def to_frame(self, boxes: FloatArray) -> FloatArray:
        """Map ``Nx4`` corner boxes in model-input pixels to frame pixels, clipped to the frame."""
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0] = boxes[:, 0] / self.scale_x
        out[:, 2] = boxes[:, 2] / self.scale_x
        out[:, 1] = boxes[:, 1] / self.scale_y
        out[:, 3] = boxes[:, 3] / self.scale_y
        np.clip(out[:, 0::2], 0.0, float(self.frame_width), out=out[:, 0::2])
        np.clip(out[:, 1::2], 0.0, float(self.frame_height), out=out[:, 1::2])
        return out

    def normalised_to_frame(self, boxes: FloatArray) -> FloatArray:
        """Map ``Nx4`` corner boxes in 0..1 model-input coordinates to frame pixels."""
        scaled = boxes.astype(np.float32, copy=True)
        scaled[:, 0::2] *= self.input_width
        scaled[:, 1::2] *= self.input_height
        return self.to_frame(scaled)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A model input tensor and the geometry needed to map its outputs back."""

    tensor: FloatArray
    letterbox: Letterbox


def check_frame(frame: Frame) -> None:
    """Raise :class:`FrameError` unless ``frame`` is a non-empty HxWx3 uint8 BGR image."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(
            f"expected an HxWx3 uint8 BGR frame, got shape {frame.shape} dtype {frame.dtype}"
        )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise FrameError(f"empty frame of shape {frame.shape}")


def resize(
    frame: Frame, spec: InputSpec, mode: ResizeMode = "stretch", pad_value: int = 0
) -> tuple[Frame, Letterbox]:
    """Resize a BGR frame to the spec's input size; return the image and its geometry."""
    check_frame(frame)
    fh, fw = int(frame.shape[0]), int(frame.shape[1])
    if mode == "stretch":
        sx, sy = spec.width / fw, spec.height / fh
        resized = cv2.resize(frame, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
        image: Frame = np.asarray(resized, dtype=np.uint8)
    else:
        s = min(spec.width / fw, spec.height / fh)
        nw = max(1, min(spec.width, round(fw * s)))
        nh = max(1, min(spec.height, round(fh * s)))
        sx, sy = nw / fw, nh / fh
        image = np.full((spec.height, spec.width, 3), pad_value, dtype=np.uint8)
        image[:nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    geometry = Letterbox(
        scale_x=sx,
        scale_y=sy,
        input_width=spec.width,
        input_height=spec.height,
        frame_width=fw,
        frame_height=fh,
    )
    return image, geometry


def to_tensor(image: Frame, spec: InputSpec) -> FloatArray:
    """Channel order, normalisation and layout of an already resized BGR image.

    One pass converts the bytes to float32 straight into the output layout (the channel order
    and the NCHW transpose are views of the uint8 image, so nothing is copied twice); mean and
    std are applied in place, and only when they change the values. Measured on a 640x480 frame:
    0.5 ms against 7.4 ms for cast-normalise-transpose-copy (docs/PERFORMANCE.md).
    """
    pixels = image[:, :, ::-1] if spec.color == "RGB" else image
    planes = pixels.transpose(2, 0, 1) if spec.layout == "NCHW" else pixels
    out = np.empty((1, *planes.shape), dtype=np.float32)
    np.copyto(out[0], planes, casting="unsafe")
    axis = (slice(None), np.newaxis, np.newaxis) if spec.layout == "NCHW" else (slice(None),)
    mean = np.asarray(spec.mean, dtype=np.float32)
    if mean.any():
        out[0] -= mean[axis]
    inv_std = 1.0 / np.asarray(spec.std, dtype=np.float32)
    if (inv_std != 1.0).any():
        out[0] *= inv_std[axis]
    return out


def prepare(
    frame: Frame, spec: InputSpec, mode: ResizeMode = "stretch", pad_value: int = 0
) -> Prepared:
    """The whole path: resize, colour, normalise, layout."""
    image, geometry = resize(frame, spec, mode, pad_value)
    return Prepared(tensor=to_tensor(image, spec), letterbox=geometry)
