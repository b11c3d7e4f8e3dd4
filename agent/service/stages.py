"""The stages the config enables: sources and analysers, lost-device alerts, screening coverage,
the alert book.

Each domain builds its own stages (:func:`agent.thermometer.build`, :func:`agent.vision.build`);
this module adds the ``thermometer_lost`` / ``camera_lost`` analyser for the enabled devices, the
screening coverage that puts the camera's arrivals beside the thermometer's results
(:mod:`agent.flow.coverage`), and the book that keeps open alerts across restarts (``state_dir/alerts.json``, :mod:`.alert_store`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agent import scanner, thermometer, vision
from agent.config import AgentConfig
from agent.flow.alerts import AlertBook
from agent.flow.clock import wall_of
from agent.flow.coverage import CoverageAnalyser
from agent.flow.events import AlertType
from agent.flow.lost import SourceLostAnalyser, Watched, always_open
from agent.flow.ports import Analyser, Source
from agent.service.alert_store import AlertFile
from agent.vision.analysers.occupancy import OccupancyAnalyser
from agent.zones.hours import OpeningHours


def build_stages(
    cfg: AgentConfig, book: AlertBook | None = None
) -> tuple[list[Source], list[Analyser]]:
    """Sources and analysers for the enabled parts of the config; their alert latches report to
    ``book`` (None: alerts are not kept across restarts)."""
    sources: list[Source] = []
    analysers: list[Analyser] = []
    is_open = opening_hours(cfg)
    for s, a in (
        thermometer.build(cfg.thermometer, cfg.screening, cfg.runtime.state_dir, book),
        vision.build(
            cfg.camera,
            cfg.vision,
            state_dir=cfg.runtime.state_dir,
            is_open=is_open,
            zones=cfg.zones,
            clinic=cfg.clinic,
            timezone=cfg.device.timezone,
            book=book,
        ),
    ):
        sources += s
        analysers += a
    lost = lost_alerts(cfg, sources, book)
    if lost is not None:
        analysers.append(lost)
    sources += scanner.build(cfg.scanner)
    coverage = screening_coverage(cfg, analysers, book)
    if coverage is not None:
        analysers.append(coverage)
    return sources, analysers


def screening_coverage(
    cfg: AgentConfig, analysers: Sequence[Analyser], book: AlertBook | None = None
) -> CoverageAnalyser | None:
    """Arrivals vs temperature results (``coverage`` events, ``screening_skipped``), when the
    camera counts arrivals and the thermometer screens, and the registration scans counted when a
    scanner is enabled; None when neither."""
    occupancy = next((a for a in analysers if isinstance(a, OccupancyAnalyser)), None)
    screening = occupancy is not None and cfg.thermometer.enabled
    if not screening and not cfg.scanner.enabled:
        return None
    s = cfg.screening
    coverage = CoverageAnalyser(
        period_s=cfg.vision.compliance_window_s,
        match_s=s.coverage_match_s,
        before_s=s.coverage_before_s,
        skipped_after=s.skipped_after,
        skipped_within_s=s.skipped_within_s,
        screening=screening,
        scanner=cfg.scanner.enabled,
        is_open=opening_hours(cfg),
        book=book,
    )
    if occupancy is not None and screening:
        occupancy.arrivals.listeners.append(coverage.arrived)
    return coverage


def lost_alerts(
    cfg: AgentConfig, sources: Sequence[Source], book: AlertBook | None = None
) -> SourceLostAnalyser | None:
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
    return SourceLostAnalyser(watched, opening_hours(cfg), book=book)


def opening_hours(cfg: AgentConfig) -> Callable[[float], bool]:
    """Whether the clinic is open at an instant (``[clinic]`` in ``device.timezone``): when the
    ``setup`` alerts are watched. Always, when no opening hours are configured."""
    hours = OpeningHours(cfg.clinic, cfg.device.timezone)
    if not hours.ever_open:
        return always_open
    return lambda at: hours.is_open(wall_of(at))  # analysers run on agent time


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
    sources, analysers = build_stages(cfg, book)
    return sources, [*analysers, book]
