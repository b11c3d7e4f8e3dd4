"""Alerts: the one latch every analyser uses to raise and clear an alert.

An :class:`AlertLatch` owns one alert's life: it raises after its condition held ``raise_after_s``,
clears after the condition stayed false ``clear_after_s`` (hysteresis in time, never an event per
frame), and gives the raise and its clear the same ``alert_id`` (32 hex digits, as the contract's
``^[0-9a-f]{8,32}$`` wants). Each transition comes back as an :class:`AlertChange`; the analyser only
words it::

    self._crowd = AlertLatch("crowding", raise_after_s=30, clear_after_s=5)
    ...
    change = self._crowd.update(count > limit, at)
    if change is not None:
        events.append(change.event(f"{count} people in view", value=float(count)))

Alerts that are raised by a fact rather than a lasting condition (a fever result, cleared when the
person leaves) use :meth:`AlertLatch.raise_now` and :meth:`AlertLatch.clear_now`. One alert per key
(a zone, a desk) is :class:`AlertLatches`: a latch per key, created on first use. :attr:`AlertLatch.active`
and :meth:`AlertLatch.restore` are the seam for alerts that must survive a restart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from agent.flow.debounce import Latch
from agent.flow.events import AlertEvent, AlertState, AlertType

K = TypeVar("K")


def new_alert_id() -> str:
    """A fresh alert id: 32 lower-case hex digits (contract: ``^[0-9a-f]{8,32}$``)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One transition of an alert: what the analyser words into an :class:`AlertEvent`."""

    alert: AlertType
    state: AlertState
    alert_id: str
    at: float
    """When the transition happened (the event's ``at``)."""
    since: float
    """When the condition that caused it began (raise) or ended (clear)."""

    @property
    def raised(self) -> bool:
        """True for a raise, False for a clear."""
        return self.state == "raised"

    def event(
        self, message: str, value: float | None = None, zone: str | None = None
    ) -> AlertEvent:
        """The event for this transition (``zone``: the zone it is about, if any)."""
        return AlertEvent(
            at=self.at,
            alert=self.alert,
            state=self.state,
            alert_id=self.alert_id,
            message=message,
            value=value,
            zone=zone,
        )


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """A raised alert: its id and since when (what a restart would need to carry it on)."""

    alert_id: str
    since: float


class AlertLatch:
    """One alert: raise after ``raise_after_s`` of its condition, clear after ``clear_after_s`` without."""

    def __init__(
        self,
        alert: AlertType,
        raise_after_s: float = 0.0,
        clear_after_s: float = 0.0,
        *,
        ids: Callable[[], str] = new_alert_id,
    ) -> None:
        self.alert: AlertType = alert
        self._latch = Latch(raise_after_s, clear_after_s)
        self._ids = ids
        self._active: ActiveAlert | None = None

    @property
    def active(self) -> ActiveAlert | None:
        """The raised alert, or None when it is clear."""
        return self._active

    @property
    def raised(self) -> bool:
        """True while the alert is raised."""
        return self._active is not None

    def update(self, condition: bool, at: float) -> AlertChange | None:
        """Observe the condition at ``at``; the transition it causes, if any."""
        change = self._latch.update(condition, at)
        if change is None:
            return None
        if change.state == "raised":
            return self._raise(at, change.since)
        return self._clear(at, change.since)

    def raise_now(self, at: float) -> AlertChange | None:
        """Raise at once (a fact, not a lasting condition); None when already raised."""
        if self._active is not None:
            return None
        self._latch.raised = True
        return self._raise(at, at)

    def clear_now(self, at: float) -> AlertChange | None:
        """Clear at once; None when not raised."""
        if self._active is None:
            return None
        self._latch = Latch(self._latch.raise_after_s, self._latch.clear_after_s)
        return self._clear(at, at)

    def restore(self, active: ActiveAlert) -> None:
        """Carry on an alert raised before a restart (its clear will reuse its id)."""
        self._latch.raised = True
        self._active = active

    def _raise(self, at: float, since: float) -> AlertChange:
        self._active = ActiveAlert(self._ids(), since)
        return AlertChange(self.alert, "raised", self._active.alert_id, at, since)

    def _clear(self, at: float, since: float) -> AlertChange | None:
        active, self._active = self._active, None
        if active is None:  # cleared without a raise this process saw
            return None
        return AlertChange(self.alert, "cleared", active.alert_id, at, since)


@dataclass(frozen=True, slots=True)
class KeyedChange(Generic[K]):
    """A transition of the latch for ``key``."""

    key: K
    change: AlertChange


class AlertLatches(Generic[K]):
    """One :class:`AlertLatch` per key (a zone name, a desk): same alert type and delays."""

    def __init__(
        self,
        alert: AlertType,
        raise_after_s: float = 0.0,
        clear_after_s: float = 0.0,
        *,
        ids: Callable[[], str] = new_alert_id,
    ) -> None:
        self.alert: AlertType = alert
        self._delays = (raise_after_s, clear_after_s)
        self._ids = ids
        self._latches: dict[K, AlertLatch] = {}

    def __getitem__(self, key: K) -> AlertLatch:
        """The latch for ``key`` (created on first use)."""
        latch = self._latches.get(key)
        if latch is None:
            latch = AlertLatch(self.alert, *self._delays, ids=self._ids)
            self._latches[key] = latch
        return latch

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._latches))

    def update(self, key: K, condition: bool, at: float) -> AlertChange | None:
        """:meth:`AlertLatch.update` for ``key``."""
        return self[key].update(condition, at)

    def update_all(self, conditions: dict[K, bool], at: float) -> list[KeyedChange[K]]:
        """Update every key in ``conditions``; keys seen before but absent count as false."""
        changes: list[KeyedChange[K]] = []
        for key in dict.fromkeys([*self._latches, *conditions]):
            change = self.update(key, conditions.get(key, False), at)
            if change is not None:
                changes.append(KeyedChange(key, change))
        return changes
