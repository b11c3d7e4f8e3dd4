"""Model families: the registry from a manifest ``family`` to the class that runs and decodes it.

Adding a family is one line in :data:`FAMILIES`: ``"name": _lazy("module", "Class")``, where the
class is constructed as ``Class(spec, path, threads=n)`` and is a
:class:`~agent.vision.findings.FaceDetector`, :class:`~agent.vision.findings.PersonDetector` or
:class:`~agent.vision.findings.MaskClassifier` according to the manifest ``task``. Modules are
imported only when a model of their family is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import cast

from agent.vision.findings import FaceDetector, MaskClassifier, PersonDetector
from agent.vision.manifest import ModelError, ModelSpec

Model = FaceDetector | PersonDetector | MaskClassifier
ModelFactory = Callable[[ModelSpec, Path, int], Model]
"""``(spec, path, threads) -> model``: onnxruntime on CPU with ``threads`` intra-op threads."""


def _lazy(module: str, cls: str) -> ModelFactory:
    def factory(spec: ModelSpec, path: Path, threads: int) -> Model:
        model_class = getattr(import_module(module), cls)
        return cast(Model, model_class(spec, path, threads=threads))

    return factory


FAMILIES: dict[str, ModelFactory] = {
    "centerface": _lazy("agent.vision.inference.families.centerface", "CenterFaceDetector"),
    "mask-classifier": _lazy(
        "agent.vision.inference.families.mask_classifier", "OnnxMaskClassifier"
    ),
    "aizoo": _lazy("agent.vision.inference.families.aizoo", "AizooDetector"),
    "ultraface": _lazy("agent.vision.inference.families.ultraface", "UltrafaceDetector"),
    "nanodet": _lazy("agent.vision.inference.families.nanodet", "NanodetDetector"),
}

FACE_TASKS = frozenset({"face", "face_mask"})


def _create(spec: ModelSpec, path: Path, threads: int, tasks: frozenset[str], role: str) -> Model:
    if spec.task not in tasks:
        raise ModelError(
            f"model {spec.name!r} has task {spec.task!r}; a {role} needs task "
            f"{' or '.join(sorted(tasks))}: check the model name in the config"
        )
    factory = FAMILIES.get(spec.family)
    if factory is None:
        known = ", ".join(sorted(FAMILIES))
        raise ModelError(
            f"model {spec.name!r} has family {spec.family!r}, which this agent cannot run "
            f"(known: {known})"
        )
    return factory(spec, path, threads)


def make_face_detector(spec: ModelSpec, path: Path, threads: int = 1) -> FaceDetector:
    """A face detector for a manifest entry of task ``face`` or ``face_mask``."""
    return cast(FaceDetector, _create(spec, path, threads, FACE_TASKS, "face detector"))


def make_person_detector(spec: ModelSpec, path: Path, threads: int = 1) -> PersonDetector:
    """A person detector for a manifest entry of task ``person``."""
    return cast(PersonDetector, _create(spec, path, threads, frozenset({"person"}), "person model"))


def make_mask_classifier(spec: ModelSpec, path: Path, threads: int = 1) -> MaskClassifier:
    """A mask classifier for a manifest entry of task ``mask``."""
    return cast(MaskClassifier, _create(spec, path, threads, frozenset({"mask"}), "mask model"))
