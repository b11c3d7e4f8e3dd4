"""The running service: the engine wired to the outbox and publisher, the main loop, and :func:`run`.

    sources (threads)  --emit-->  engine (agent/flow/engine.py)  -->  events  -->  outbox  -->  publisher

The main loop is the only thread that touches analysers and writes events, so analysers need no
locks. Sources never block: when the queue is full the observation is dropped and counted. Once a
second the loop ticks the analysers, the summary tally and the periodic health event, sends a
``STATUS=`` line to systemd, and pets the watchdog when every internal thread's loop has turned
recently (:mod:`agent.flow.liveness`): the watchdog means "this process is alive and not stuck". A
missing camera, thermometer or broker is a degraded state shown in ``health`` and ``status``, never
a reason to stop the pets; a hung ``read`` or a deadlocked inference is, and systemd restarts the
service.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from functools import partial
from types import FrameType
from typing import Any, Protocol, runtime_checkable

from agent import __version__, thermometer, vision
from agent.config import EX_CONFIG, AgentConfig
from agent.flow.alerts import AlertBook, using_book
from agent.flow.clock import (
    STEP_TOLERANCE_S,
    ClockState,
    StepWatch,
    agent_now,
    made_under_a_wrong_clock,
    rebase_tally,
    wall_of,
)
from agent.flow.engine import Engine
from agent.flow.events import (
    AlertEvent,
    AlertType,
    Event,
    HealthEvent,
    OccupancyEvent,
    SummaryEvent,
    TemperatureEvent,
)
from agent.flow.liveness import LoopStamp, stuck_loops
from agent.flow.lost import SourceLostAnalyser, Watched, always_open
from agent.flow.ports import Analyser, Source
from agent.flow.summary import ClinicClock, SummaryTally
from agent.service.alert_store import AlertFile
from agent.service.calibration import calibrate_command
from agent.service.clock_sync import ClockSync
from agent.service.notify import Notifier
from agent.service.status_server import StatusServer, StatusServerError
from agent.thermometer.live_calibration import CalibratedScreening
from agent.vision.manifest import ModelError
from agent.wire.contract import Identity, PayloadTooLargeError, WireMessage, encode
from agent.wire.discovery import Discovery, Entities
from agent.wire.outbox import Outbox, StorageError
from agent.wire.publisher import Publisher
from agent.zones.hours import OpeningHours

log = logging.getLogger(__name__)

TICK_S = 1.0
STATUS_EVERY_S = 5.0
KEPT_MAX = 2000
"""Events kept in memory while the outbox cannot be written (oldest dropped and counted beyond)."""
LOG_EVERY_S = 60.0

ALIVE_EVERY_S = 10.0
"""How often the summary tally (with its last-alive stamp) is saved when no event saved it: the
precision of the ``offline`` minutes a restart reports."""
SUMMARY_STATE = "summary"
"""The outbox state key of the summary tally."""
CLOCK_TRUST_AFTER_S = 900.0
"""How long the summaries wait for an NTP client that runs but has not synchronised the clock
(after a boot without a clock battery); then the clock is taken as it is."""
PENDING_MAX = 20000
"""Counted events kept (in memory) for the summaries while they wait for a synchronised clock."""

EventListener = Callable[[Event], None]
Clock = Callable[[], float]
Loops = Callable[[], Sequence[LoopStamp]]
"""Something whose thread loops the watchdog watches: returns their stamps (empty when stopped)."""


@runtime_checkable
class ReportsIntegrity(Protocol):
    """An analyser that knows the camera's integrity state (the vision integrity analyser)."""

    def integrity_status(self) -> dict[str, object]:
        """Commissioned, open camera alerts, last check cost (no images)."""


@runtime_checkable
class ReportsInference(Protocol):
    """A source that can tell its recent inference time (the vision worker)."""

    def inference_ms(self) -> float | None:
        """Recent median inference time per frame, or None."""


def counted(event: Event) -> bool:
    """Whether the summaries count ``event`` (:meth:`SummaryTally.counts`, without a tally)."""
    return isinstance(event, TemperatureEvent | OccupancyEvent | AlertEvent)


def build_stages(cfg: AgentConfig) -> tuple[list[Source], list[Analyser]]:
    """Sources and analysers for the enabled parts of the config."""
    sources: list[Source] = []
    analysers: list[Analyser] = []
    is_open = opening_hours(cfg)
    for s, a in (
        thermometer.build(cfg.thermometer, cfg.screening, cfg.runtime.state_dir),
        vision.build(
            cfg.camera,
            cfg.vision,
            state_dir=cfg.runtime.state_dir,
            is_open=is_open,
            zones=cfg.zones,
            clinic=cfg.clinic,
            timezone=cfg.device.timezone,
        ),
    ):
        sources += s
        analysers += a
    lost = lost_alerts(cfg, sources)
    if lost is not None:
        analysers.append(lost)
    return sources, analysers


def lost_alerts(cfg: AgentConfig, sources: Sequence[Source]) -> SourceLostAnalyser | None:
    """``thermometer_lost`` / ``camera_lost`` for the enabled devices, while the clinic is open
    (``[clinic]`` hours in ``device.timezone``; always when no hours are configured)."""
    after: dict[str, tuple[AlertType, float]] = {
        "thermometer": ("thermometer_lost", cfg.thermometer.lost_alert_after_s),
        "camera": ("camera_lost", cfg.camera.lost_alert_after_s),
    }
    watched = [
        Watched(s.name, alert, s.heartbeat, after_s)
        for s in sources
        if s.name in after
        for alert, after_s in [after[s.name]]
    ]
    if not watched:
        return None
    return SourceLostAnalyser(watched, opening_hours(cfg))


def opening_hours(cfg: AgentConfig) -> Callable[[float], bool]:
    """Whether the clinic is open at an instant (``[clinic]`` in ``device.timezone``): when the
    ``setup`` alerts are watched. Always, when no opening hours are configured."""
    hours = OpeningHours(cfg.clinic, cfg.device.timezone)
    if not hours.ever_open:
        return always_open
    return lambda at: hours.is_open(wall_of(at))  # analysers run on agent time


class Pipeline:
    """Wires sources, analysers, the outbox and the publisher, and runs the main loop."""

    def __init__(
        self,
        cfg: AgentConfig,
        sources: Sequence[Source],
        analysers: Sequence[Analyser],
        outbox: Outbox,
        publisher: Publisher | None,
        notifier: Notifier | None = None,
        clock: Clock = time.time,
        agent_clock: Clock | None = None,
        clock_state: Callable[[], ClockState] | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        """The wall clock: labels (``ts``) and the clinic's periods only."""
        self._scripted = agent_clock is None and clock is not time.time
        """A test's scripted clock: one time line, so wall and agent time are the same."""
        self.agent_clock: Clock = agent_clock or (clock if self._scripted else agent_now)
        """Agent time (:mod:`agent.flow.clock`): durations, health periods, uptime, analysers."""
        self.clock_state = clock_state
        """Whether the system clock is synchronised (None: trusted as it is)."""
        self._clock: ClockState = clock_state() if clock_state is not None else "synced"
        self._steps = StepWatch()
        self.identity = Identity.of(cfg.device, cfg.mqtt)
        self.sources = list(sources)
        self.analysers = list(analysers)
        self.outbox = outbox
        self.publisher = publisher
        self.notifier = notifier or Notifier()
        self.started = clock()
        self.started_agent = self.agent_clock()
        self._shift = self.started - self.started_agent
        """Wall minus agent time: the clock's steps since the start."""
        self.engine = Engine(self.analysers, self._from_analysers)
        self._summary: SummaryTally | None = None
        """None while the summaries wait for a synchronised clock (:meth:`_update_clock`)."""
        self._pending: deque[tuple[Event, float]] = deque(maxlen=PENDING_MAX)
        """Counted events (and the wall-agent shift then) waiting for the summaries."""
        if self._clock != "unsynced":
            self._start_tally(self.started)
        self._next_alive = 0.0
        self._next_health = 0.0
        self._next_status = 0.0
        self._listeners: list[EventListener] = []
        self._thread_loops: list[Loops] = [s.loops for s in self.sources]
        if publisher is not None:
            self._thread_loops.append(publisher.loops)
        self._stuck: list[str] = []
        self.last_temperature: TemperatureEvent | None = None
        self.last_error: str | None = None
        self._kept: deque[Event] = deque()
        self.stored = 0
        """Events written to the outbox since start (the fault suite's 'produced')."""
        self.published_directly = 0
        """Events sent straight to the broker because the outbox could not be written."""
        self._kept_logged = 0.0
        self._loop_errors = 0
        self._loop_logged = 0.0

    # -- wiring ----------------------------------------------------------------------------------
    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener`` (main loop thread) with every event written to the outbox."""
        self._listeners.append(listener)

    def watch(self, loops: Loops) -> None:
        """Also watch these threads' loops for the watchdog (the status server's)."""
        self._thread_loops.append(loops)

    @property
    def dropped(self) -> int:
        """Observations and events lost so far (full queue, unstorable event)."""
        return self.engine.dropped

    def emit(self, event: Event) -> None:
        """Write one event to the outbox and tell the tally and listeners.

        The periods that ended by the event's time are closed first (their summaries go before it);
        an event the tally counts is stored with the tally's state in the same transaction. While
        the outbox cannot be written (disk full, read-only, I/O error) events go straight to the
        broker when it is connected (:meth:`publish_kept_directly`), else wait in memory, in
        order, up to :data:`KEPT_MAX` (beyond, the oldest are dropped and counted) until the broker
        or the outbox takes them. Never raises for a storage fault.
        """
        if self._summary is None:
            if counted(event):
                self._pending.append((event, self._shift))
        else:
            if not isinstance(event, SummaryEvent):
                self.close_periods(event.at)
            self._summary.record(event)
        if isinstance(event, TemperatureEvent):
            self.last_temperature = event
        for listener in self._listeners:
            listener(event)
        self._kept.append(event)
        if len(self._kept) > KEPT_MAX:
            self._kept.popleft()
            self.engine.count_drop()
            self._log_kept("outbox still failing: dropped the oldest event kept in memory")
        self.store_kept()

    def _from_analysers(self, event: Event) -> None:
        """The engine's sink: an analyser's event (agent time) labelled with the wall clock."""
        if self._shift != 0.0:
            event = replace(event, at=event.at + self._shift)
        self.emit(event)

    # -- the clock -------------------------------------------------------------------------------
    def _start_tally(self, now: float) -> None:
        """Start the summaries once the wall clock is trusted: resume the saved tally at the true
        start time (``now`` when the clock was trusted from the start), then count the events kept
        meanwhile at their corrected times."""
        start = self.started_agent + self._shift
        self._summary = SummaryTally.resume(
            self.cfg.reporting.summary_interval_s,
            self.cfg.device.timezone,
            start,
            self._saved_tally(start),
        )
        pending, self._pending = list(self._pending), deque(maxlen=PENDING_MAX)
        if pending:
            log.info(
                "summaries: counting %d event(s) kept while the clock was unsynchronised",
                len(pending),
            )
        for event, shift in pending:
            moved = replace(event, at=event.at - shift + self._shift)
            self.close_periods(moved.at)
            self._summary.record(moved)
        if pending and self.outbox.fault is None:
            self._save_tally()

    def _update_clock(self, agent: float) -> None:
        """Ask whether the clock is synchronised; start the summaries when it can be trusted."""
        if self.clock_state is not None:
            state = self.clock_state()
            if state != self._clock:
                log.warning("system clock: %s (was %s)", state, self._clock)
                self._clock = state
        if self._summary is None:
            waited = agent - self.started_agent
            if self._clock != "unsynced" or waited >= CLOCK_TRUST_AFTER_S:
                if self._clock == "unsynced":
                    log.warning(
                        "system clock still not synchronised after %.0f s: summaries go on with "
                        "the clock as it is (health says clock unsynced)",
                        waited,
                    )
                self._start_tally(self.started_agent + self._shift)

    def _clock_stepped(self, now: float, step: float) -> None:
        """The wall clock stepped by ``step`` s: durations do not notice (agent time); the open
        summary periods carry on in the periods of the corrected clock."""
        log.warning(
            "system clock stepped by %+.0f s (now %s); health, uptime and alert delays run on "
            "the monotonic clock, open summary periods carry on under the corrected clock",
            step,
            time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)),
        )
        if self._summary is None:
            return
        c = self._summary.clock
        self._summary.load(rebase_tally(self._summary.to_state(), now, c.slot(now), c.day(now)))
        if self.outbox.fault is None:
            self._save_tally()

    def store_kept(self) -> None:
        """Store the events kept in memory, oldest first, until one fails."""
        while self._kept:
            event = self._kept[0]
            try:
                self.outbox.append(partial(self._encode, event), state=self._state_for(event))
            except PayloadTooLargeError as exc:
                log.error("event not stored: %s", exc)
                self.engine.count_drop()
            except StorageError as exc:
                self.last_error = f"outbox write failed: {exc.cause}"
                self.publish_kept_directly()
                self._log_kept(
                    f"{self.last_error}; sensing continues: events go straight to the broker while "
                    f"it is connected ({self.published_directly} so far), {len(self._kept)} "
                    f"waiting in memory (at most {KEPT_MAX}); {self.outbox.path}"
                )
                return
            self._kept.popleft()
            self.stored += 1

    def publish_kept_directly(self) -> None:
        """While the outbox cannot be written: the kept events, oldest first, straight to the
        broker as long as it is connected (QoS 1 from memory, so at-least-once only while this
        process lives: a read-only or failing SD card may never take them). The rest keep waiting;
        the outbox's own backlog drains as before."""
        if self.publisher is None:
            return
        while self._kept and self.publisher.state().connected:
            event = self._kept.popleft()
            try:
                msg = encode(event, self.identity, self.outbox.reserve_seq())
            except PayloadTooLargeError as exc:
                log.error("event not published: %s", exc)
                self.engine.count_drop()
                continue
            self.publisher.publish_now(msg)
            self.published_directly += 1

    def close_periods(self, now: float) -> None:
        """Emit the summary of every period that ended by ``now``; each is stored with the tally
        that no longer holds it, so a restart neither repeats nor loses it."""
        while self._summary is not None and (summary := self._summary.due(now)) is not None:
            self.emit(summary)

    def _state_for(self, event: Event) -> dict[str, str] | None:
        """The tally's state to store with ``event`` when the event changed it."""
        if self._summary is None:
            return None
        if isinstance(event, SummaryEvent) or self._summary.counts(event):
            return {SUMMARY_STATE: self._tally_state(self._summary)}
        return None

    def _tally_state(self, tally: SummaryTally) -> str:
        return json.dumps(tally.to_state(), separators=(",", ":"))

    def _saved_tally(self, now: float) -> dict[str, Any] | None:
        text = self.outbox.state.load(SUMMARY_STATE)
        if text is None:
            return None
        try:
            state = json.loads(text)
        except ValueError:
            log.warning("saved summary tally unreadable; counting from now")
            return None
        if not isinstance(state, dict):
            return None
        if made_under_a_wrong_clock(state, now, STEP_TOLERANCE_S):
            log.warning(
                "saved summary tally is from the future (saved %+.0f s from now, under a clock "
                "since stepped back): its counts carry on in the current periods",
                float(state["alive"]) - now,
            )
            c = ClinicClock(self.cfg.device.timezone, self.cfg.reporting.summary_interval_s)
            return rebase_tally(state, now, c.slot(now), c.day(now))
        return dict(state)

    def _save_tally(self) -> None:
        if self._summary is not None:
            self.outbox.state.save({SUMMARY_STATE: self._tally_state(self._summary)})

    def _encode(self, event: Event, seq: int) -> WireMessage:
        return encode(event, self.identity, seq)

    def _log_kept(self, message: str) -> None:
        now = time.monotonic()
        if now - self._kept_logged >= LOG_EVERY_S:
            self._kept_logged = now
            log.error("%s", message)

    @property
    def kept(self) -> int:
        """Events waiting in memory for the outbox to become writable."""
        return len(self._kept)

    # -- the loop --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the publisher and every source; returns at once."""
        if self.publisher is not None:
            self.publisher.start()
        for source in self.sources:
            log.info("starting source %s", source.name)
            source.start(self.engine.offer)

    def run(self, stop: threading.Event) -> None:
        """Run the main loop until ``stop`` is set (the caller then calls :meth:`shutdown`)."""
        next_tick = time.monotonic()
        while not stop.is_set():
            try:
                self.engine.step(next_tick - time.monotonic())
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + TICK_S
                    self.tick(self.clock())
            except Exception as exc:  # the loop must outlive any single failure
                self._loop_failed(exc)
                stop.wait(0.1)

    def _loop_failed(self, exc: Exception) -> None:
        self._loop_errors += 1
        self.last_error = f"main loop: {type(exc).__name__}: {exc}"
        now = time.monotonic()
        if now - self._loop_logged >= LOG_EVERY_S:
            self._loop_logged = now
            log.exception("main loop error #%d (continuing)", self._loop_errors)

    def tick(self, now: float) -> None:
        """Time-driven work: summaries of ended periods (before the analysers' events of ``now``,
        which belong to the next period), analyser timeouts, the tally's last-alive stamp, health,
        systemd status and watchdog. ``now`` is the wall clock; every schedule here runs on agent
        time (:mod:`agent.flow.clock`), so a step of the wall clock neither stalls nor hurries it."""
        agent = now if self._scripted else self.agent_clock()
        step = self._steps.check(now, agent)
        self._shift = now - agent
        if step:
            self._clock_stepped(now, step)
        self._update_clock(agent)
        if self._summary is not None:
            self._summary.alive(now)
        self.close_periods(now)
        self.engine.tick(agent)
        if agent >= self._next_alive and self.outbox.fault is None:
            self._save_tally()
            self._next_alive = agent + ALIVE_EVERY_S
        self.outbox.retry()
        self.store_kept()
        if agent >= self._next_health:
            self.outbox.evict_expired(now)
            self._next_health = agent + self.cfg.reporting.health_interval_s
            health = self.health(now, agent)
            if self.outbox.fault is None:
                self.emit(health)
            else:
                self.publish_health_directly(health)
        if agent >= self._next_status:
            self.notifier.status(self.status_line(agent))
            self._next_status = agent + STATUS_EVERY_S
        if not self.stuck_threads():
            self.notifier.watchdog()

    def publish_health_directly(self, health: HealthEvent) -> None:
        """Health while the outbox is failing: straight to the broker (if connected), not kept."""
        if self.publisher is None:
            return
        try:
            msg = encode(health, self.identity, self.outbox.reserve_seq())
        except PayloadTooLargeError as exc:
            log.error("health not published: %s", exc)
            return
        self.publisher.publish_now(msg)

    def stuck_threads(self) -> list[str]:
        """Names of the threads whose loops stopped turning (empty: pet the watchdog).

        Logs when the set changes: a stuck thread once (systemd will restart the service within
        ``WatchdogSec``), and its recovery. Degraded devices do not count: their threads turn.
        """
        stuck = stuck_loops(stamp for loops in self._thread_loops for stamp in loops())
        names = sorted(s.name for s in stuck)
        if names != self._stuck:
            for stamp in stuck:
                if stamp.name not in self._stuck:
                    log.error(
                        "thread %s has not turned its loop for %.0f s: stuck; no more watchdog "
                        "pets, systemd will restart the agent",
                        stamp.name,
                        stamp.age(),
                    )
            for name in self._stuck:
                if name not in names:
                    log.warning("thread %s turns its loop again; watchdog pets resume", name)
            self._stuck = names
        return names

    def inference_ms(self) -> float | None:
        for s in self.sources:
            if isinstance(s, ReportsInference):
                return s.inference_ms()
        return None

    def health(self, now: float, agent: float | None = None) -> HealthEvent:
        """The health event for wall time ``now`` (``agent``: the same instant in agent time)."""
        a = now if agent is None else agent
        oldest = self.outbox.oldest_age_s(now)
        sources = {
            s.name: replace(snap, since=snap.since + now - a)
            for s in self.sources
            for snap in [s.heartbeat.snapshot(a)]
        }
        return HealthEvent(
            at=now,
            uptime_s=int(self.uptime(a)),
            version=__version__,
            sources=sources,
            outbox_depth=self.outbox.depth(),
            outbox_oldest_s=None if oldest is None else int(oldest),
            rejected=sum(h.errors for h in sources.values()),
            dropped=self.dropped,
            evicted=self.outbox.evicted(),
            inference_ms=self.inference_ms(),
            storage=self.outbox.fault,
            outbox_resets=self.outbox.resets or None,
            clock=None if self._clock == "synced" else "unsynced",
        )

    def uptime(self, agent: float) -> float:
        """Seconds since the start, on the monotonic clock (agent time ``agent``)."""
        return max(0.0, agent - self.started_agent)

    def clock_status(self) -> dict[str, Any]:
        """The clock as ``status`` shows it."""
        return {
            "state": self._clock,
            "steps": self._steps.steps,
            "last_step_s": None if self._steps.last_step is None else round(self._steps.last_step),
            "summaries": "waiting for a synchronised clock" if self._summary is None else "on",
            "kept_for_summaries": len(self._pending),
        }

    def _integrity(self) -> ReportsIntegrity | None:
        for a in self.analysers:
            if isinstance(a, ReportsIntegrity):
                return a
        return None

    def calibration(self) -> CalibratedScreening | None:
        """The screening analyser that owns the offset in force (None without a thermometer)."""
        for a in self.analysers:
            if isinstance(a, CalibratedScreening):
                return a
        return None

    def status_line(self, now: float) -> str:
        """One line for systemd's STATUS= and `systemctl status`."""
        broker = "broker ?"
        if self.publisher is not None:
            broker = "broker up" if self.publisher.state().connected else "broker DOWN"
        parts = [broker]
        for s in self.sources:
            snap = s.heartbeat.snapshot(now)
            fps = f" {snap.fps:.1f}/s" if snap.fps is not None else ""
            parts.append(f"{s.name} {snap.state}{fps}")
        parts.append(f"outbox {self.outbox.depth()}")
        if self._stuck:
            parts.append(f"STUCK {' '.join(self._stuck)}")
        if self.outbox.fault is not None:
            parts.append(f"outbox FAILING: {self.outbox.fault}, {self.kept} in memory")
        calibration = self.calibration()
        if calibration is not None and calibration.problem is not None:
            parts.append(
                f"calibration file UNUSABLE, offset {calibration.offset_c:+.2f} °C "
                f"({calibration.source})"
            )
        return ", ".join(parts)

    def snapshot(self) -> dict[str, Any]:
        """Live state for `triage-agent status` (no images, no boxes)."""
        now = self.clock()
        agent = now if self._scripted else self.agent_clock()
        broker: dict[str, Any] = {"connected": False}
        if self.publisher is not None:
            st = self.publisher.state()
            broker = {
                "connected": st.connected,
                "since": st.since,
                "connects": st.connects,
                "rejected": st.rejected,
                "last_error": st.last_error,
                "host": f"{self.cfg.mqtt.host}:{self.cfg.mqtt.port}",
            }
        errors = [s.heartbeat.last_error for s in self.sources if s.heartbeat.last_error]
        integrity = self._integrity()
        calibration = self.calibration()
        return {
            "device": self.identity.device,
            "version": __version__,
            "uptime_s": round(self.uptime(agent), 1),
            "sources": {
                s.name: asdict(replace(snap, since=snap.since + now - agent))
                for s in self.sources
                for snap in [s.heartbeat.snapshot(agent)]
            },
            "inference_ms": self.inference_ms(),
            "last_temperature": asdict(self.last_temperature) if self.last_temperature else None,
            "outbox": {
                "depth": self.outbox.depth(),
                "oldest_s": self.outbox.oldest_age_s(now),
                "evicted": self.outbox.evicted(),
                "storage": self.outbox.fault,
                "advice": self.outbox.advice,
                "kept_in_memory": self.kept,
                "published_directly": self.published_directly,
                "resets": self.outbox.resets,
                "notices": list(self.outbox.notices),
            },
            "dropped": self.dropped,
            "stuck_threads": list(self._stuck),
            "broker": broker,
            "last_error": (
                f"outbox: {self.outbox.fault}"
                if self.outbox.fault
                else self.last_error or (errors[-1] if errors else None)
            ),
            "integrity": integrity.integrity_status() if integrity is not None else None,
            "calibration": dict(calibration.status()) if calibration is not None else None,
            "clock": self.clock_status(),
        }

    def shutdown(self, flush_timeout_s: float = 5.0) -> None:
        """Stop sources, flush and close the publisher, close the outbox."""
        self.notifier.stopping("stopping: flushing the outbox")
        for source in self.sources:
            try:
                source.stop()
            except Exception:
                log.exception("source %s failed to stop", source.name)
        self.engine.drain()  # observations still queued from sources
        self.store_kept()
        if self._summary is not None:
            self._summary.alive(self.clock())
        self._save_tally()
        if self._kept:
            log.error(
                "%d event(s) could not be stored (outbox: %s) and are lost at exit",
                len(self._kept),
                self.outbox.fault,
            )
        if self.publisher is not None:
            self.publisher.stop(flush_timeout_s)
        log.info(
            "figures: %d event(s) stored in the outbox since start, %d acknowledged by the broker, "
            "%d still waiting, %d dropped, %d published directly (storage fault)",
            self.stored,
            self.publisher.acknowledged if self.publisher is not None else 0,
            self.outbox.depth(),
            self.dropped,
            self.published_directly,
        )
        self.outbox.close()


def alert_book(cfg: AgentConfig, started: float) -> AlertBook:
    """The open alerts kept in ``runtime.state_dir`` across restarts."""
    store = AlertFile.in_state_dir(cfg.runtime.state_dir)
    return AlertBook(store, started, cfg.reporting.restored_alert_grace_s)


def build_stages_keeping_alerts(
    cfg: AgentConfig, started: float
) -> tuple[list[Source], list[Analyser]]:
    """:func:`build_stages` with every alert latch reporting to the state directory's book (the
    book itself is the last analyser: it clears restored alerts nobody confirmed)."""
    book = alert_book(cfg, started)
    with using_book(book):
        sources, analysers = build_stages(cfg)
    return sources, [*analysers, book]


def entities(cfg: AgentConfig) -> Entities:
    """What this box announces to Home Assistant: the enabled devices and the configured zones."""
    return Entities(
        temperature=cfg.thermometer.enabled,
        vision=cfg.camera.enabled,
        zones=tuple(z.name for z in cfg.zones),
        staff_zones=tuple(z.name for z in cfg.zones if z.role == "staff"),
    )


def build_pipeline(cfg: AgentConfig, notifier: Notifier | None = None) -> Pipeline:
    """Everything ``run`` needs, from a validated config (raises ModelError). An outbox that
    cannot be opened does not stop it: it starts faulted, as after a failed write (:class:`Outbox`),
    so screening runs while events go straight to the broker."""
    outbox = Outbox(cfg.outbox.path, cfg.outbox.max_messages, cfg.outbox.max_age_s)
    sources, analysers = build_stages_keeping_alerts(cfg, agent_now())
    identity = Identity.of(cfg.device, cfg.mqtt)
    discovery = Discovery(
        cfg.home_assistant, identity, entities(cfg), __version__, cfg.runtime.state_dir
    )
    publisher = Publisher(
        cfg.mqtt, identity, outbox, cfg.reporting.health_interval_s, discovery=discovery
    )
    return Pipeline(cfg, sources, analysers, outbox, publisher, notifier, clock_state=ClockSync())


def run(cfg: AgentConfig) -> int:
    """The main job: run until SIGTERM/SIGINT; returns the exit status."""
    notifier = Notifier()
    try:
        pipeline = build_pipeline(cfg, notifier)
    except ModelError as exc:
        print(f"triage-agent: {exc}", file=sys.stderr)
        return EX_CONFIG
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pipeline.start()
    status_server = StatusServer(
        cfg.runtime.status_socket,
        pipeline.snapshot,
        pipeline.identity.topic,
        commands={"calibrate": calibrate_command(pipeline.calibration(), pipeline.engine.offer)},
    )
    try:
        status_server.start()
        pipeline.add_listener(status_server.publish)
        pipeline.watch(status_server.loops)
    except StatusServerError as exc:
        log.warning("%s; `triage-agent status` and `tail` will not work", exc)
    notifier.ready()
    log.info(
        "triage-agent %s running as %s: %d source(s), %d analyser(s), broker %s:%d",
        __version__,
        pipeline.identity.device,
        len(pipeline.sources),
        len(pipeline.analysers),
        cfg.mqtt.host,
        cfg.mqtt.port,
    )
    try:
        pipeline.run(stop)
    finally:
        pipeline.shutdown()
        status_server.stop()
    log.info("stopped cleanly")
    return 0
