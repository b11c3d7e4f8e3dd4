"""The ``models`` check: the configured models load exactly as ``run`` loads them.

It calls :func:`agent.vision.load_inference`, the loader ``run`` uses (through
:func:`agent.vision.build`): the manifest, sha256, task and family of the face, mask and (when set)
person model, every family in the registry. So it FAILs exactly when ``run`` would exit 78 on the
models (a :class:`~agent.vision.manifest.ModelError`), and is skipped when ``run`` would not load
them (camera disabled). Then one blank frame goes through the loaded analyser and is timed.
"""

from __future__ import annotations

import time

import numpy as np

from agent.cli.diag.check import Check, Context
from agent.config import AgentConfig
from agent.vision import load_inference
from agent.vision.manifest import ModelError

_REINSTALL = "reinstall the package (models ship in /opt/triage-agent/models)"


def _named(cfg: AgentConfig) -> str:
    v = cfg.vision
    person = f", person {v.person_model}" if v.person_model is not None else ""
    return f"face {v.face_model}, mask {v.mask_model}{person}"


def check_models(cfg: AgentConfig) -> Check:
    """The scene inference ``run`` would build, loaded and run once on a blank frame."""
    if not cfg.camera.enabled:
        return Check("models", "SKIP", "camera disabled: no models needed")
    models_dir = cfg.vision.models_dir
    try:
        analyser = load_inference(cfg.vision)
    except ModelError as exc:
        fix = f"check the vision.*_model names against {models_dir}/manifest.json, or {_REINSTALL}"
        if not models_dir.is_absolute():
            fix = f"vision.models_dir = {models_dir} is relative: use an absolute path; {fix}"
        return Check("models", "FAIL", f"{exc} (`triage-agent run` exits 78 on this)", fix)
    frame = np.zeros((cfg.camera.height, cfg.camera.width, 3), dtype=np.uint8)
    try:
        analyser.analyse(frame, time.time())  # warm-up
        findings = analyser.analyse(frame, time.time())
    except Exception as exc:
        return Check(
            "models",
            "FAIL",
            f"{_named(cfg)} loaded but failed on a frame: {exc}",
            f"the model files do not fit their manifest entries; {_REINSTALL}",
        )
    return Check(
        "models",
        "PASS",
        f"{_named(cfg)}: loaded as `run` loads them, one "
        f"{cfg.camera.width}x{cfg.camera.height} frame {findings.inference_ms:.1f} ms",
    )


def check(ctx: Context) -> list[Check]:
    """Registry entry."""
    return [check_models(ctx.cfg)]
