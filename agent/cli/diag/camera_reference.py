"""The ``camera reference`` check: the reference view the tamper checks judge a moved camera by.

It reads the file ``triage-agent commission`` wrote (:func:`agent.vision.inference.integrity_reference.load_reference`,
as ``run`` loads it) and, while the agent runs, its open camera alerts. WARN when not commissioned
(a moved camera cannot be detected), FAIL while a camera alert is open. It takes no frame.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from agent.cli.diag.check import Check, Context
from agent.config import AgentConfig
from agent.vision import reference_path
from agent.vision.inference.integrity_measures import MIN_LANDMARKS
from agent.vision.inference.integrity_reference import (
    REFERENCE_NAME,
    ReferenceFileError,
    load_reference,
)

_COMMISSION_FIX = (
    "aim the camera as intended, then: sudo systemctl stop triage-agent; "
    "sudo triage-agent commission; sudo systemctl start triage-agent"
)


def check_camera_reference(cfg: AgentConfig, live: Mapping[str, Any] | None) -> Check:
    """The commissioned reference the tamper checks judge a moved camera by, and (live) any open
    camera alert. Reads the small reference file only; no frame is taken."""
    if not cfg.camera.enabled:
        return Check("camera reference", "SKIP", "camera disabled (camera.enabled = false)")
    integrity = cfg.vision.integrity
    if not integrity.enabled:
        return Check(
            "camera reference", "SKIP", "integrity checks off (vision.integrity.enabled = false)"
        )
    path = reference_path(integrity, cfg.runtime.state_dir) or (
        cfg.runtime.state_dir / REFERENCE_NAME
    )
    state = (live or {}).get("integrity") or {}
    raised = state.get("raised") or []
    if raised:
        return Check(
            "camera reference",
            "FAIL",
            f"camera alert(s) open: {', '.join(raised)} (live, from the running agent)",
            "uncover, light, clean/refocus or re-aim the camera (the alert messages say which); "
            "after a deliberate re-aim: " + _COMMISSION_FIX,
        )
    try:
        ref = load_reference(path)
    except FileNotFoundError:
        return Check(
            "camera reference",
            "WARN",
            f"not commissioned ({path} absent): a moved camera cannot be detected; covered, dark "
            "and blurred use absolute thresholds",
            _COMMISSION_FIX,
        )
    except (ReferenceFileError, OSError) as exc:
        return Check("camera reference", "WARN", str(exc), _COMMISSION_FIX)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ref.created))
    if not ref.can_judge_moves:
        return Check(
            "camera reference",
            "WARN",
            f"recorded {when} with {ref.landmarks} landmarks (< {MIN_LANDMARKS}): the view has "
            "too little structure to detect a moved camera",
            "aim the camera to include the desk and the wall behind it; " + _COMMISSION_FIX,
        )
    if state.get("commissioned") is False:
        unknown = (state.get("unknown") or {}).get("moved") or "not usable"
        return Check(
            "camera reference",
            "WARN",
            f"recorded {when}, but the running agent cannot use it: {unknown}",
            "restart the agent after commissioning; if the camera resolution changed: "
            + _COMMISSION_FIX,
        )
    return Check(
        "camera reference",
        "PASS",
        f"commissioned {when}: {ref.landmarks} landmarks at {ref.width}x{ref.height}",
    )


def check(ctx: Context) -> list[Check]:
    """Registry entry."""
    return [check_camera_reference(ctx.cfg, ctx.live)]
