"""What the running service shows of itself: systemd's ``STATUS=`` line and ``status``'s snapshot.

Read-only views of the pipeline (the status server calls :func:`snapshot` from its own thread);
no images, no boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent import __version__
from agent.flow.ports import Analyser
from agent.service.health import inference_ms

if TYPE_CHECKING:
    from agent.service.pipeline import Pipeline


@runtime_checkable
class ReportsIntegrity(Protocol):
    """An analyser that knows the camera's integrity state (the vision integrity analyser)."""

    def integrity_snapshot(self) -> dict[str, object]:
        """Commissioned, open camera alerts, last check cost (no images)."""


def integrity_of(analysers: Sequence[Analyser]) -> ReportsIntegrity | None:
    for a in analysers:
        if isinstance(a, ReportsIntegrity):
            return a
    return None


def status_line(p: Pipeline, now: float) -> str:
    """One line for systemd's STATUS= and `systemctl status`."""
    broker = "broker ?"
    if p.publisher is not None:
        broker = "broker up" if p.publisher.state().connected else "broker DOWN"
    parts = [broker]
    for s in p.sources:
        snap = s.heartbeat.snapshot(now)
        fps = f" {snap.fps:.1f}/s" if snap.fps is not None else ""
        parts.append(f"{s.name} {snap.state}{fps}")
    parts.append(f"outbox {p.outbox.depth()}")
    if p.watchdog.stuck:
        parts.append(f"STUCK {' '.join(p.watchdog.stuck)}")
    if p.outbox.fault is not None:
        parts.append(f"outbox FAILING: {p.outbox.fault}, {p.sink.kept} in memory")
    calibration = p.calibration()
    if calibration is not None and calibration.problem is not None:
        parts.append(
            f"calibration file UNUSABLE, offset {calibration.offset_c:+.2f} °C "
            f"({calibration.source})"
        )
    return ", ".join(parts)


def snapshot(p: Pipeline) -> dict[str, Any]:
    """Live state for `triage-agent status` (no images, no boxes)."""
    now = p.clocks.wall()
    agent = p.clocks.agent_at(now)
    broker: dict[str, Any] = {"connected": False}
    if p.publisher is not None:
        st = p.publisher.state()
        broker = {
            "connected": st.connected,
            "since": st.since,
            "connects": st.connects,
            "rejected": st.rejected,
            "last_error": st.last_error,
            "host": f"{p.cfg.mqtt.host}:{p.cfg.mqtt.port}",
        }
    errors = [s.heartbeat.last_error for s in p.sources if s.heartbeat.last_error]
    integrity = integrity_of(p.analysers)
    calibration = p.calibration()
    outbox = p.outbox
    return {
        "device": p.identity.device,
        "version": __version__,
        "uptime_s": round(p.clocks.uptime(agent), 1),
        "sources": {
            s.name: asdict(replace(snap, since=snap.since + now - agent))
            for s in p.sources
            for snap in [s.heartbeat.snapshot(agent)]
        },
        "inference_ms": inference_ms(p.sources),
        "last_temperature": asdict(p.last_temperature) if p.last_temperature else None,
        "outbox": {
            "depth": outbox.depth(),
            "oldest_s": outbox.oldest_age_s(),
            "evicted": outbox.evicted(),
            "storage": outbox.fault,
            "advice": outbox.advice,
            "kept_in_memory": p.sink.kept,
            "published_directly": p.sink.published_directly,
            "resets": outbox.resets,
            "notices": list(outbox.notices),
        },
        "dropped": p.dropped,
        "stuck_threads": list(p.watchdog.stuck),
        "broker": broker,
        "last_error": (
            f"outbox: {outbox.fault}"
            if outbox.fault
            else p.last_error or (errors[-1] if errors else None)
        ),
        "integrity": integrity.integrity_snapshot() if integrity is not None else None,
        "calibration": dict(calibration.snapshot()) if calibration is not None else None,
        "clock": {**p.clocks.snapshot(), **p.summaries.snapshot()},
    }
