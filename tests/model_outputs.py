"""Every model in a manifest run on fixed input tensors: the same code on x86 and on emulated arm64.

tests/test_arm64.py calls :func:`run_models` in the test process (x86, the dev environment) and runs
this file as a script with the arm64 package's Python under qemu::

    python tests/model_outputs.py MODELS_DIR INPUTS.npz OUTPUTS.npz

``INPUTS.npz`` holds one tensor per model name (made once, on x86, so both sides see identical
bytes); ``OUTPUTS.npz`` gets ``<model>/<index>`` for each output. Models load through the product's
own session code (``agent.vision.inference.families.session``: CPU provider, 1 intra-op thread). As a script it
imports only the package (agent, numpy, onnxruntime), nothing from the test suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.vision.inference.families.session import OnnxModel
from agent.vision.manifest import load_manifest


def run_models(
    models_dir: Path, inputs: dict[str, npt.NDArray[np.float32]]
) -> dict[str, npt.NDArray[np.float32]]:
    """``{"<model>/<i>": output i}`` for every manifest model that has an input tensor."""
    manifest = load_manifest(models_dir / "manifest.json")
    out: dict[str, npt.NDArray[np.float32]] = {}
    for spec in manifest.models:
        model = OnnxModel(spec, models_dir / spec.file, threads=1)
        for i, value in enumerate(model.run(inputs[spec.name])):
            out[f"{spec.name}/{i}"] = value
    return out


def main(argv: list[str]) -> int:
    models_dir, inputs_path, outputs_path = (Path(a) for a in argv)
    with np.load(inputs_path) as data:
        inputs = {k: np.asarray(data[k], dtype=np.float32) for k in data.files}
    np.savez(outputs_path, **run_models(models_dir, inputs))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
