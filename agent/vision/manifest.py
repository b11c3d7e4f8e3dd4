"""The model manifest: which ONNX files the agent may load, how to feed them, and proof of origin.

``models/manifest.json`` lists every model the product ships (and a technician's "bring your own"
manifest may list others of a known family). Each entry is validated here; the file's sha256 is
checked before onnxruntime ever sees it. Example entry::

    {
      "name": "face-detector", "family": "centerface", "task": "face",
      "file": "centerface.onnx", "sha256": "<64 hex>",
      "input": {"width": 320, "height": 240, "layout": "NCHW", "color": "RGB",
                "mean": [0, 0, 0], "std": [1, 1, 1]},
      "labels": ["face"], "thresholds": {"score": 0.5, "nms_iou": 0.4},
      "licence": "MIT", "origin": "...", "made_by": "...", "card": "cards/face-detector.md",
      "metrics": {"...": 0.0}
    }

Normalisation: ``x' = (x - mean[c]) / std[c]`` on 0..255 pixel values in the ``color`` channel order.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.flow.settings import models_advice
from agent.vision.errors import VisionError

Family = Literal["centerface", "blazeface", "ultraface", "nanodet", "aizoo", "mask-classifier"]
Task = Literal["face", "face_mask", "person", "mask"]
Optimisation = Literal["all", "extended", "basic", "none"]
"""onnxruntime graph optimisation levels a manifest entry may ask for (``ModelSpec.optimisation``)."""


class ModelError(VisionError):
    """A model that cannot be used: missing file, checksum mismatch, bad manifest entry."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Model):
    """How to turn a BGR uint8 image into the model's input tensor."""

    width: int = Field(gt=0, description="Input width in pixels.")
    height: int = Field(gt=0, description="Input height in pixels.")
    layout: Literal["NCHW", "NHWC"] = Field(default="NCHW", description="Tensor layout.")
    color: Literal["RGB", "BGR"] = Field(default="RGB", description="Channel order.")
    mean: tuple[float, float, float] = Field(default=(0.0, 0.0, 0.0), description="Per channel.")
    std: tuple[float, float, float] = Field(default=(1.0, 1.0, 1.0), description="Per channel.")


class ModelSpec(_Model):
    """One manifest entry."""

    name: str = Field(min_length=1, description="Name the config refers to.")
    family: Family = Field(description="Decoder family that knows the model's outputs.")
    task: Task = Field(description="What the model finds.")
    file: str = Field(min_length=1, description="ONNX file, relative to the manifest's folder.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the file.")
    input: InputSpec = Field(description="Input size, layout and normalisation.")
    labels: tuple[str, ...] = Field(description="Output class labels.")
    thresholds: dict[str, float] = Field(default_factory=dict, description="score, nms_iou, ...")
    licence: str = Field(min_length=1, description="Licence of the weights.")
    origin: str = Field(min_length=1, description="Where the weights come from.")
    made_by: str = Field(min_length=1, description="How the file was made (script, command).")
    card: str | None = Field(default=None, description="Model card, relative to the manifest.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Measured accuracy.")
    optimisation: Optimisation = Field(
        default="all",
        description=(
            "onnxruntime graph optimisation level: 'all' (with the CPU layout transformation; "
            "the fastest for the shipped models) unless it was measured to slow this model down "
            "(the AIZOO SSD runs 3.6 times slower with it on an AVX-512 Xeon): 'extended', "
            "'basic' or 'none'."
        ),
    )


class Manifest(_Model):
    """The whole manifest file."""

    models: tuple[ModelSpec, ...]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model manifest {path} not found; {models_advice()}") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"model manifest {path} is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise ModelError(f"model manifest {path} is not UTF-8 text; {models_advice()}") from None
    except OSError as exc:
        raise ModelError(f"cannot read model manifest {path}: {exc.strerror or exc}") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ModelError(f"model manifest {path}: {where}: {first['msg']}") from None


LABEL_NAME_MAX = 24
"""Characters of a model's name kept in its :func:`label` (the health event's ``models``)."""


def label(spec: ModelSpec) -> str:
    """``<name>@<first 8 hex of its sha256>``: which model runs, compact (at most 33 printable
    ASCII characters; other characters of the name become ``?``), for health's ``models``."""
    name = "".join(c if " " <= c <= "~" else "?" for c in spec.name[:LABEL_NAME_MAX])
    return f"{name}@{spec.sha256[:8]}"


def resolve(
    models_dir: Path, name: str, manifest_name: str = "manifest.json"
) -> tuple[ModelSpec, Path]:
    """Find model ``name`` in ``models_dir/manifest.json``, check its sha256, return spec and path."""
    manifest_path = models_dir / manifest_name
    manifest = load_manifest(manifest_path)
    for spec in manifest.models:
        if spec.name == name:
            file = models_dir / spec.file
            if not file.is_file():
                raise ModelError(
                    f"model file {file} (model {name!r}) is missing; {models_advice()}"
                )
            try:
                digest = sha256_file(file)
            except OSError as exc:
                raise ModelError(f"cannot read model file {file}: {exc.strerror or exc}") from None
            if digest != spec.sha256:
                raise ModelError(
                    f"model file {file} has sha256 {digest[:12]}..., manifest says "
                    f"{spec.sha256[:12]}...; the file is corrupt or was replaced: reinstall it"
                )
            return spec, file
    names = ", ".join(s.name for s in manifest.models) or "none"
    raise ModelError(f"model {name!r} is not in {manifest_path} (it lists: {names})")
