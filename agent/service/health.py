"""The periodic ``health`` event: the sources' states, the outbox's figures, drops, the clock.

Built on agent time (durations, uptime) and labelled with the wall clock. While the outbox cannot
be written, health goes straight to the broker (if connected) and is not kept
(:func:`publish_directly`): it carries ``storage``, the fault's cause.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from agent import __version__
from agent.flow.events import HealthEvent
from agent.flow.ports import Source
from agent.wire.contract import PayloadTooLargeError, encode

if TYPE_CHECKING:
    from agent.service.pipeline import Pipeline

log = logging.getLogger("agent.service.pipeline")  # the main loop's lines keep one logger name


@runtime_checkable
class ReportsInference(Protocol):
    """A source that can tell its recent inference time (the vision worker)."""

    def inference_ms(self) -> float | None:
        """Recent median inference time per frame, or None."""


def inference_ms(sources: Sequence[Source]) -> float | None:
    """The vision worker's recent inference time (None without one)."""
    for s in sources:
        if isinstance(s, ReportsInference):
            return s.inference_ms()
    return None


@runtime_checkable
class NamesModels(Protocol):
    """A source that can name the models it runs (the vision worker)."""

    def models(self) -> dict[str, str] | None:
        """The loaded models by task, ``<name>@<sha256 prefix>``, or None."""


def loaded_models(sources: Sequence[Source]) -> dict[str, str] | None:
    """The vision worker's loaded models for the ``status`` events (None: vision does not run)."""
    for s in sources:
        if isinstance(s, NamesModels):
            return s.models()
    return None


def health_event(p: Pipeline, now: float, agent: float | None = None) -> HealthEvent:
    """The health event for wall time ``now`` (``agent``: the same instant in agent time)."""
    a = now if agent is None else agent
    oldest = p.outbox.oldest_age_s()
    sources = {
        s.name: replace(snap, since=snap.since + now - a)
        for s in p.sources
        for snap in [s.heartbeat.snapshot(a)]
    }
    return HealthEvent(
        at=now,
        uptime_s=int(p.clocks.uptime(a)),
        version=__version__,
        sources=sources,
        outbox_depth=p.outbox.depth(),
        outbox_oldest_s=None if oldest is None else int(oldest),
        rejected=sum(h.errors for h in sources.values()),
        dropped=p.dropped,
        evicted=p.outbox.evicted(),
        inference_ms=inference_ms(p.sources),
        storage=p.outbox.fault,
        outbox_resets=p.outbox.resets or None,
        clock=None if p.clocks.state == "synced" else "unsynced",
    )


def publish_directly(p: Pipeline, health: HealthEvent) -> None:
    """Health while the outbox is failing: straight to the broker (if connected), not kept."""
    if p.publisher is None:
        return
    try:
        msg = encode(health, p.identity, p.outbox.reserve_seq())
    except PayloadTooLargeError as exc:
        log.error("health not published: %s", exc)
        return
    p.publisher.publish_now(msg)
