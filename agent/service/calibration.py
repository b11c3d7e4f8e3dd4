"""``{"cmd": "calibrate"}`` on the status socket: calibration through the running agent.

The running agent owns the serial port, so ``triage-agent calibrate`` asks it instead of opening the
port (which a technician's login may not open, and which two readers would share badly). The
request travels to the main loop through the engine's queue as a
:class:`~agent.thermometer.live_calibration.CalibrationRequest`; the main loop measures, stores the
file as the service user and applies the offset at once (no restart). The protocol, one JSON line
each way and then progress lines:

    request  {"cmd": "calibrate", "reference_c": 36.9, "timeout_s": 60}
         or  {"cmd": "calibrate", "offset_c": 0.8}
    answer   {"ok": true, "waiting": true|false, "offset_c": <in force>, "file": "..."}
             {"progress": "..."}                                   (zero or more)
             {"done": true, "ok": true, "calibration": {...}, "file": "...", "previous_offset_c": x}
         or  {"done": true, "ok": false, "code": "timeout|limit|storage|busy|lost", "error": "..."}
    a bad request, or no thermometer: {"ok": false, "error": "..."}

The client hanging up (Ctrl-C) cancels a waiting ``reference_c`` request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent.flow.ports import Analyser
from agent.service.status_server import Command, Conversation
from agent.thermometer.live_calibration import MAX_WAIT_S, CalibratedScreening, CalibrationRequest

GRACE_S = 10.0
"""How long after the request's own deadline the answer may take before the socket gives up (the
main loop stuck or the request dropped from a full queue)."""
POLL_S = 0.5


def _number(request: Mapping[str, Any], key: str) -> float | None:
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key} must be a number, not {value!r}")
    return float(value)


def calibrate_command(
    keeper: CalibratedScreening | None, offer: Callable[[object], None]
) -> Command:
    """The ``calibrate`` command for the agent whose screening is ``keeper`` (None: no
    thermometer), handing requests to its main loop with ``offer`` (the engine's)."""

    def handle(request: Mapping[str, Any], talk: Conversation) -> None:
        if keeper is None:
            talk.send(
                {
                    "ok": False,
                    "error": "the running agent has no thermometer (thermometer.enabled = false)",
                }
            )
            return
        try:
            reference = _number(request, "reference_c")
            offset = _number(request, "offset_c")
            timeout = _number(request, "timeout_s")
            req = CalibrationRequest(
                reference_c=reference,
                offset_c=offset,
                timeout_s=60.0 if timeout is None else min(timeout, MAX_WAIT_S),
            )
        except ValueError as exc:
            talk.send(
                {
                    "ok": False,
                    "error": f"bad calibrate request: {exc} (give reference_c or offset_c)",
                }
            )
            return
        talk.send(
            {
                "ok": True,
                "waiting": reference is not None,
                "offset_c": keeper.offset_c,
                "file": str(keeper.path),
                "timeout_s": req.timeout_s,
            }
        )
        offer(req)
        give_up = req.deadline + GRACE_S
        while True:
            msg = req.next_message(POLL_S)
            if msg is not None:
                talk.send(msg)
                if msg.get("done"):
                    return
                continue
            if talk.closed():
                req.cancel()
                return
            if time.monotonic() > give_up:
                req.cancel()
                talk.send(
                    {
                        "done": True,
                        "ok": False,
                        "code": "lost",
                        "error": (
                            "the agent's main loop did not answer the request (it is overloaded "
                            "or stuck: see `triage-agent status`); nothing stored, try again"
                        ),
                    }
                )
                return

    return handle


def screening_of(analysers: Sequence[Analyser]) -> CalibratedScreening | None:
    """The screening analyser that owns the offset in force (None without a thermometer)."""
    for a in analysers:
        if isinstance(a, CalibratedScreening):
            return a
    return None
