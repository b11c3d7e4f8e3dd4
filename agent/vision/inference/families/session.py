"""Opening an ONNX file in onnxruntime the way the agent runs every model: CPU, few threads, quiet.

Session options (measured in docs/PERFORMANCE.md, "onnxruntime session options"): ``threads``
intra-op threads (1 by default) and one inter-op thread, sequential execution, all graph
optimisations (unless the manifest entry's ``optimisation`` asks for fewer), the CPU memory arena
on (turning it off cost about 10 % more time for no memory saving) and memory patterns off: the
face detector sees inputs of changing size (region crops), for which pre-planned patterns only add
memory (peak RSS 216 -> 175 MB on mixed sizes).

The sha256 check happens before this (``manifest.resolve``); here a file that onnxruntime cannot
load, or whose input does not match the manifest, becomes a :class:`ModelError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from agent.vision.manifest import ModelError, ModelSpec, Optimisation

FloatArray = npt.NDArray[np.float32]

LEVELS: dict[Optimisation, ort.GraphOptimizationLevel] = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}
"""Manifest ``optimisation`` values -> onnxruntime graph optimisation levels."""


class OnnxModel:
    """One onnxruntime session with a single image input, checked against its manifest entry."""

    def __init__(self, spec: ModelSpec, path: Path, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = LEVELS[spec.optimisation]
        options.enable_cpu_mem_arena = True
        options.enable_mem_pattern = False
        options.log_severity_level = 3  # errors only: some upstream exports warn per initializer
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(
                f"model file {path} (model {spec.name!r}) cannot be loaded by onnxruntime: {exc}"
            ) from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"model {spec.name!r} ({path}) has {len(inputs)} inputs, expected 1")
        self.input_name: str = inputs[0].name
        shape = list(inputs[0].shape)
        expected = (
            [1, 3, spec.input.height, spec.input.width]
            if spec.input.layout == "NCHW"
            else [1, spec.input.height, spec.input.width, 3]
        )
        fixed = [d if isinstance(d, int) else None for d in shape]
        if len(fixed) != 4 or any(
            d is not None and d != e for d, e in zip(fixed, expected, strict=True)
        ):
            raise ModelError(
                f"model {spec.name!r} ({path}) takes input shape {shape}, but its manifest entry "
                f"says {expected} ({spec.input.layout}); fix 'input' in the manifest"
            )
        self.output_names: list[str] = [o.name for o in self._session.get_outputs()]
        self.optimisation: ort.GraphOptimizationLevel = options.graph_optimization_level
        """The graph optimisation level the session was opened with."""
        self.spec = spec
        self.path = path

    def run(self, tensor: FloatArray) -> list[FloatArray]:
        """Run the model; outputs as float32 arrays in the model's output order."""
        outputs = self._session.run(self.output_names, {self.input_name: tensor})
        return [np.asarray(o, dtype=np.float32) for o in outputs]
