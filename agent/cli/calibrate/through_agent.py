"""``triage-agent calibrate`` through the running agent: asked over the status socket.

The agent owns the serial port, so the command sends the request (:mod:`agent.service.calibration`
answers it), relays the agent's progress lines and turns its final answer into an exit status.
:func:`through_agent` returns None when no agent is running (the command then measures directly).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.cli.calibrate.common import (
    ANSWER_GRACE_S,
    EX_CANTCREAT,
    EX_NOPERM,
    EX_TEMPFAIL,
    EX_UNAVAILABLE,
    fail,
    say,
)
from agent.cli.status import SERVICE, StatusClientError, converse, fetch_status
from agent.config import AgentConfig


def _thermometer_state(config: AgentConfig) -> str:
    """The running agent's view of its thermometer, for a timeout message."""
    try:
        snap = fetch_status(config.runtime.status_socket)
    except StatusClientError:
        return ""
    src = (snap.get("sources") or {}).get("thermometer") or {}
    state = src.get("state", "?")
    fps = src.get("fps")
    if state == "ok":
        rate = f" at {fps:.1f} readings/s" if isinstance(fps, int | float) else ""
        return (
            f" (the thermometer is delivering{rate}: nobody held still in front of it, or nobody "
            "was warmer than the room by screening.presence_delta_c)"
        )
    last = snap.get("last_error") or "see `triage-agent diag`"
    return f" (the thermometer is {state}: {last})"


def _final(config: AgentConfig, done: Mapping[str, Any]) -> int:
    if done.get("ok"):
        cal = done.get("calibration") or {}
        if cal.get("reference_c") is not None:
            say(
                f"uncalibrated estimate {cal.get('estimate_c'):.2f} °C, "
                f"reference {cal.get('reference_c'):.2f} °C"
            )
        say(
            f"stored offset {cal.get('offset_c'):+.2f} °C in {done.get('file')} (was "
            f"{done.get('previous_offset_c', 0.0):+.2f} °C); the running agent screens with it "
            "from now on, no restart needed"
        )
        return 0
    code = done.get("code")
    error = str(done.get("error"))
    if code == "timeout":
        return fail(error + _thermometer_state(config), 1)
    status = {"limit": 1, "storage": EX_CANTCREAT, "busy": EX_TEMPFAIL}.get(str(code), EX_TEMPFAIL)
    return fail(error, status)


def through_agent(config: AgentConfig, request: Mapping[str, Any], timeout_s: float) -> int | None:
    """Ask the running agent to calibrate; its exit status, or None when no agent is running."""
    socket_path = config.runtime.status_socket
    try:
        answers = converse(socket_path, request, timeout_s + ANSWER_GRACE_S)
        first = next(answers)
    except StatusClientError as exc:
        if exc.not_running:
            return None
        text = str(exc)
        if "unknown cmd" in text:
            return fail(
                "the running agent is an older version that cannot calibrate while it runs: "
                f"sudo systemctl stop {SERVICE}; sudo triage-agent calibrate ...; "
                f"sudo systemctl start {SERVICE}",
                EX_UNAVAILABLE,
            )
        if exc.denied:
            return fail(f"the agent is running, but this login may not ask it: {text}", EX_NOPERM)
        return fail(f"cannot calibrate through the running agent: {text}", EX_UNAVAILABLE)
    except TimeoutError:
        return fail(
            f"the agent accepted the connection but did not answer; nothing stored "
            f"(`systemctl status {SERVICE}`)",
            EX_TEMPFAIL,
        )
    if first.get("waiting"):
        say(
            f"step up to the thermometer and hold still; the running agent measures (offset in "
            f"force now {first.get('offset_c', 0.0):+.2f} °C); waiting up to "
            f"{first.get('timeout_s', timeout_s):.0f} s"
        )
    try:
        for line in answers:
            if "progress" in line:
                say(str(line["progress"]))
            if line.get("done"):
                return _final(config, line)
    except TimeoutError:
        return fail(
            "the agent stopped answering; check `triage-agent status` (nothing may be stored)",
            EX_TEMPFAIL,
        )
    return fail(
        f"the agent closed the connection before answering (it stopped or restarted: "
        f"`systemctl status {SERVICE}`); check `triage-agent calibrate --show`",
        EX_TEMPFAIL,
    )
