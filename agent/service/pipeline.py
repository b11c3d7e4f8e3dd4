"""The running service: the engine wired to the outbox and publisher, the main loop, and :func:`run`.

    sources (threads)  --emit-->  engine (agent/flow/engine.py)  -->  events  -->  outbox  -->  publisher

The main loop is the only thread that touches analysers and writes events, so analysers need no
locks. Sources never block: when the queue is full the observation is dropped and counted. Once a
second the loop ticks the analysers, the summary tally and the periodic health event, sends a
``STATUS=`` line to systemd, and pets the watchdog when every internal thread's loop has turned
recently. Each of those jobs is its own module; this one wires them:

- :mod:`.stages`: sources and analysers from the config, lost-device alerts, the alert book;
- :mod:`.clocks`: wall and agent time, clock steps, whether the clock is synchronised;
- :mod:`.event_sink`: events to the outbox, or straight to the broker, or memory, while it fails;
- :mod:`.summaries` and :mod:`.tally_store`: the summary tally and its persistence;
- :mod:`.health`: the health event; :mod:`.watchdog`: the watchdog decision;
- :mod:`.snapshot`: systemd's ``STATUS=`` line and ``status``'s snapshot;
- :mod:`.signals`: SIGTERM/SIGINT; :mod:`.calibration`: calibration through the running agent.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from agent import __version__
from agent.config import EX_CONFIG, AgentConfig
from agent.config.preflight import model_refusal
from agent.flow.clock import ClockState, agent_now
from agent.flow.engine import Engine
from agent.flow.events import Event, HealthEvent, TemperatureEvent
from agent.flow.ports import Analyser, Source
from agent.service import health, snapshot
from agent.service.calibration import calibrate_command, screening_of
from agent.service.clock_sync import ClockSync
from agent.service.clocks import Clock, Clocks
from agent.service.event_sink import LOG_EVERY_S, EventSink
from agent.service.home_assistant import HomeAssistantState, desk_state
from agent.service.notify import Notifier
from agent.service.signals import stop_on_signals
from agent.service.stages import build_stages_keeping_alerts
from agent.service.status_server import StatusServer, StatusServerError
from agent.service.summaries import Summaries
from agent.service.tally_store import ALIVE_EVERY_S, TallyStore
from agent.service.watchdog import Loops, Watchdog
from agent.thermometer.live_calibration import CalibratedScreening
from agent.vision.manifest import ModelError
from agent.wire.contract import Identity
from agent.wire.discovery import Discovery, Entities
from agent.wire.outbox import Outbox
from agent.wire.publisher import Publisher

log = logging.getLogger(__name__)

TICK_S = 1.0
STATUS_LINE_EVERY_S = 5.0

EventListener = Callable[[Event], None]


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
        self.clocks = Clocks(clock, agent_clock, clock_state)
        self.started = self.clocks.started
        self.identity = Identity.of(cfg.device, cfg.mqtt)
        self.sources = list(sources)
        self.analysers = list(analysers)
        self.outbox = outbox
        self.publisher = publisher
        self.notifier = notifier or Notifier()
        self.engine = Engine(self.analysers, self._from_analysers)
        r = cfg.reporting
        self.summaries = Summaries(
            outbox,
            TallyStore(outbox.state, cfg.device.timezone, r.summary_interval_s),
            self.clocks,
            r.summary_interval_s,
            cfg.device.timezone,
            self.store,
        )
        self.sink = EventSink(
            outbox,
            publisher,
            self.identity,
            self.engine.count_drop,
            self.summaries.state_for,
            self._error,
        )
        self.watchdog = Watchdog(s.loops for s in self.sources)
        if publisher is not None:
            self.watchdog.watch(publisher.loops)
        self._next_alive = 0.0
        self._next_health = 0.0
        self._next_status_line = 0.0
        self._listeners: list[EventListener] = []
        self.last_temperature: TemperatureEvent | None = None
        self.last_error: str | None = None
        self._loop_errors = 0
        self._loop_logged = 0.0

    # -- wiring ----------------------------------------------------------------------------------
    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener`` (main loop thread) with every event written to the outbox."""
        self._listeners.append(listener)

    def watch(self, loops: Loops) -> None:
        """Also watch these threads' loops for the watchdog (the status server's)."""
        self.watchdog.watch(loops)

    @property
    def dropped(self) -> int:
        """Observations and events lost so far (full queue, unstorable event)."""
        return self.engine.dropped

    def store(self, event: Event) -> None:
        """Write one event to the outbox and tell the tally and listeners.

        The periods that ended by the event's time are closed first (their summaries go before it);
        an event the tally counts is stored with the tally's state in the same transaction. A
        storage fault never raises: :class:`~agent.service.event_sink.EventSink` keeps the event.
        """
        self.summaries.record(event)
        if isinstance(event, TemperatureEvent):
            self.last_temperature = event
        for listener in self._listeners:
            listener(event)
        self.sink.put(event)

    def _from_analysers(self, event: Event) -> None:
        """The engine's sink: an analyser's event (agent time) labelled with the wall clock."""
        if self.clocks.shift != 0.0:
            event = replace(event, at=event.at + self.clocks.shift)
        self.store(event)

    def _error(self, text: str) -> None:
        self.last_error = text

    def store_kept(self) -> None:
        """Store the events kept in memory, oldest first, until one fails."""
        self.sink.store_kept()

    @property
    def kept(self) -> int:
        """Events waiting in memory for the outbox to become writable."""
        return self.sink.kept

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
                    self.tick(self.clocks.wall())
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
        agent, step = self.clocks.observe(now)
        if step:
            self.summaries.clock_stepped(now)
        self.summaries.check_clock(agent)
        self.summaries.alive(now)
        self.summaries.close_periods(now)
        self.engine.tick(agent)
        if agent >= self._next_alive and self.outbox.fault is None:
            self.summaries.save()
            self._next_alive = agent + ALIVE_EVERY_S
        self.outbox.retry()
        self.sink.store_kept()
        if agent >= self._next_health:
            self.outbox.evict_expired()
            self._next_health = agent + self.cfg.reporting.health_interval_s
            event = self.health(now, agent)
            if self.outbox.fault is None:
                self.store(event)
            else:
                health.publish_directly(self, event)
        if agent >= self._next_status_line:
            self.notifier.status_line(self.status_line(agent))
            self._next_status_line = agent + STATUS_LINE_EVERY_S
        self.watchdog.pet(self.notifier)

    def health(self, now: float, agent: float | None = None) -> HealthEvent:
        """The health event for wall time ``now`` (``agent``: the same instant in agent time)."""
        return health.health_event(self, now, agent)

    def stuck_threads(self) -> list[str]:
        """Names of the threads whose loops stopped turning (empty: pet the watchdog)."""
        return self.watchdog.stuck_threads()

    def calibration(self) -> CalibratedScreening | None:
        """The screening analyser that owns the offset in force (None without a thermometer)."""
        return screening_of(self.analysers)

    def status_line(self, now: float) -> str:
        """One line for systemd's STATUS= and `systemctl status`."""
        return snapshot.status_line(self, now)

    def snapshot(self) -> dict[str, Any]:
        """Live state for `triage-agent status` (no images, no boxes)."""
        return snapshot.snapshot(self)

    def shutdown(self, flush_timeout_s: float = 5.0) -> None:
        """Stop sources, flush and close the publisher, close the outbox."""
        self.notifier.stopping("stopping: flushing the outbox")
        for source in self.sources:
            try:
                source.stop()
            except Exception:
                log.exception("source %s failed to stop", source.name)
        self.engine.drain()  # observations still queued from sources
        self.sink.store_kept()
        self.summaries.alive(self.clocks.wall())
        self.summaries.save()
        if self.sink.kept:
            log.error(
                "%d event(s) could not be stored (outbox: %s) and are lost at exit",
                self.sink.kept,
                self.outbox.fault,
            )
        if self.publisher is not None:
            self.publisher.stop(flush_timeout_s)
        log.info(
            "figures: %d event(s) stored in the outbox since start, %d acknowledged by the broker, "
            "%d still waiting, %d dropped, %d published directly (storage fault)",
            self.sink.stored,
            self.publisher.acknowledged if self.publisher is not None else 0,
            self.outbox.depth(),
            self.dropped,
            self.sink.published_directly,
        )
        self.outbox.close()


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
        cfg.mqtt,
        identity,
        outbox,
        cfg.reporting.health_interval_s,
        discovery=discovery,
        models=health.loaded_models(sources),
    )
    pipeline = Pipeline(
        cfg, sources, analysers, outbox, publisher, notifier, clock_state=ClockSync()
    )
    if cfg.home_assistant.enabled:  # the values Home Assistant shows, retained
        desk = desk_state(entities(cfg).staff_zones, analysers)
        pipeline.add_listener(HomeAssistantState(discovery, publisher, desk).hear)
    return pipeline


def run(cfg: AgentConfig) -> int:
    """The main job: run until SIGTERM/SIGINT; returns the exit status."""
    notifier = Notifier()
    try:
        pipeline = build_pipeline(cfg, notifier)
    except ModelError as exc:
        print(f"triage-agent: {model_refusal(cfg, exc)}", file=sys.stderr)
        return EX_CONFIG
    stop = stop_on_signals()
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
