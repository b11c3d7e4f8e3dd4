"""Alerts: the one latch every analyser uses to raise and clear an alert.

An :class:`AlertLatch` owns one alert's life: it raises after its condition held ``raise_after_s``,
clears after the condition stayed false ``clear_after_s`` (hysteresis in time, never an event per
frame), and gives the raise and its clear the same ``alert_id`` (32 hex digits, as the contract's
``^[0-9a-f]{8,32}$`` wants). Each transition comes back as an :class:`AlertChange`; the analyser only
words it::

    self._crowd = AlertLatch("crowding", raise_after_s=30, clear_after_s=5, book=book)
    ...
    change = self._crowd.update(count > limit, at)
    if change is not None:
        events.append(change.event(f"{count} people in view", value=float(count)))

Alerts that are raised by a fact rather than a lasting condition (a fever result, cleared when the
person leaves) use :meth:`AlertLatch.raise_now` and :meth:`AlertLatch.clear_now`. One alert per key
(a zone, a desk) is :class:`AlertLatches`: a latch per key, created on first use.

Alerts survive restarts through an :class:`AlertBook`, built by the service around an
:class:`AlertStore` (the file in the state directory) and handed to each analyser, which hands it to
its latches (``book=``): every latch then reports its raises and clears to the book, which saves
the open alerts (a latch without a book keeps nothing across restarts). After a restart a latch
created for an alert that was open (same type and key) carries it on, and its analyser's first verdict decides: the condition still holds -> it stays open
with the same ``alert_id`` and no second raise; it no longer holds -> it is cleared at once with
the message :data:`RESTART_CLEARED`. "No longer holds" is believed only after :data:`SETTLE_S`
from the start (an analyser ticked before its camera delivered a frame sees nobody). The book is also an analyser (added last): on its ticks it
clears, with :data:`RESTART_EXPIRED`, every restored alert no verdict confirmed within its grace
period (an analyser that is no longer configured, a latch never created, a fact-driven alert whose
end was not seen). No alert stays raised because the process stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from agent.flow.alert_kinds import alert_kind, is_alert
from agent.flow.debounce import Latch
from agent.flow.events import AlertEvent, AlertState, AlertType, Event, MaskCause

SETTLE_S = 30.0
"""After a start, how long a restored alert's absent condition is not taken as a verdict (the
sources start up); a present condition confirms it at once. At most the book's grace."""
RESTART_CLEARED = "agent restarted; condition no longer present"
"""The message of a clear decided by the analyser's first verdict after a restart."""
RESTART_EXPIRED = "agent restarted; condition not confirmed within {grace:.0f} s"
"""The message of a clear after the grace period without a verdict."""
RESTART_SUPERSEDED = "agent restarted; a new alert replaces this one"
"""The message of a restored fact-driven alert (a fever) replaced by a new raise."""

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

    reason: str | None = None
    """Why a clear happened when the analyser did not decide it (a restart); replaces the
    analyser's message."""

    def event(
        self,
        message: str,
        value: float | None = None,
        zone: str | None = None,
        cause: MaskCause | None = None,
    ) -> AlertEvent:
        """The event for this transition (``zone``: the zone it is about, if any; ``cause``: why a
        mask alert was raised)."""
        return AlertEvent(
            at=self.at,
            alert=self.alert,
            state=self.state,
            alert_id=self.alert_id,
            message=self.reason or message,
            value=value,
            zone=zone,
            cause=cause,
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
        key: str | None = None,
        book: AlertBook | None = None,
    ) -> None:
        alert_kind(alert)  # an undeclared name fails here, when the analyser is built
        self.alert: AlertType = alert
        self.key = key
        """What the alert is about within its type (a zone name), None for a single alert."""
        self._latch = Latch(raise_after_s, clear_after_s)
        self._ids = ids
        self._active: ActiveAlert | None = None
        self._book = book
        """Where the alert is kept across restarts (None: not kept)."""
        self._restored = False
        """Carried on from before a restart, waiting for the analyser's first verdict."""
        if self._book is not None:
            active = self._book.claim(self)
            if active is not None:
                self.restore(active)
                self._restored = True

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
        if self._restored:
            if not condition and self._book is not None and self._book.settling(at):
                return None  # the sources may not deliver yet: no verdict
            self._restored = False
            if self._book is not None:
                self._book.decided(self)
            if not condition:
                self._latch = Latch(self._latch.raise_after_s, self._latch.clear_after_s)
                return self._clear(at, at, RESTART_CLEARED)
        change = self._latch.update(condition, at)
        if change is None:
            return None
        if change.state == "raised":
            return self._raise(at, change.since)
        return self._clear(at, change.since)

    def raise_now(self, at: float) -> AlertChange | None:
        """Raise at once (a fact, not a lasting condition); None when already raised.

        A restored alert is replaced: the book clears it (on its next tick) and this raises anew."""
        if self._restored and self._active is not None and self._book is not None:
            self._restored = False
            self._book.supersede(self, self._active)
            self._active = None
        if self._active is not None:
            return None
        self._latch.raised = True
        return self._raise(at, at)

    def clear_now(self, at: float) -> AlertChange | None:
        """Clear at once; None when not raised."""
        if self._active is None:
            return None
        if self._restored and self._book is not None:
            self._restored = False
            self._book.decided(self)
        self._latch = Latch(self._latch.raise_after_s, self._latch.clear_after_s)
        return self._clear(at, at)

    def expire(self, at: float, reason: str) -> AlertChange | None:
        """Clear a restored alert no verdict confirmed (called by the book)."""
        if not self._restored:
            return None
        self._restored = False
        self._latch = Latch(self._latch.raise_after_s, self._latch.clear_after_s)
        return self._clear(at, at, reason)

    def restore(self, active: ActiveAlert) -> None:
        """Carry on an alert raised before a restart (its clear will reuse its id)."""
        self._latch.raised = True
        self._active = active

    def _raise(self, at: float, since: float) -> AlertChange:
        self._active = ActiveAlert(self._ids(), since)
        if self._book is not None:
            self._book.opened(self, self._active, at)
        return AlertChange(self.alert, "raised", self._active.alert_id, at, since)

    def _clear(self, at: float, since: float, reason: str | None = None) -> AlertChange | None:
        active, self._active = self._active, None
        if active is None:  # cleared without a raise this process saw
            return None
        if self._book is not None:
            self._book.closed(self)
        return AlertChange(self.alert, "cleared", active.alert_id, at, since, reason)


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
        book: AlertBook | None = None,
    ) -> None:
        alert_kind(alert)
        self.alert: AlertType = alert
        self._delays = (raise_after_s, clear_after_s)
        self._ids = ids
        self._book = book
        """Handed to its latches, created later, on first use."""
        self._latches: dict[K, AlertLatch] = {}

    def __getitem__(self, key: K) -> AlertLatch:
        """The latch for ``key`` (created on first use)."""
        latch = self._latches.get(key)
        if latch is None:
            latch = AlertLatch(
                self.alert, *self._delays, ids=self._ids, key=str(key), book=self._book
            )
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


# -- surviving restarts ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An open alert as the store keeps it."""

    alert: AlertType
    key: str | None
    alert_id: str
    since: float
    """When its condition began."""
    raised_at: float
    """When it was raised."""


class AlertStore(Protocol):
    """Where the open alerts are kept across restarts (the service's file; no IO in the flow)."""

    def load(self) -> Sequence[OpenAlert]:
        """The alerts open when the agent last stopped (empty on a first start or a bad file)."""

    def save(self, alerts: Sequence[OpenAlert]) -> None:
        """Replace the kept alerts (atomically; never raises)."""


class AlertBook:
    """The open alerts of every latch, saved on each raise and clear; restores them at start.

    Also an analyser (``name`` "alerts"): its :meth:`tick` clears the restored alerts no verdict
    confirmed within ``grace_s`` of ``started``.
    """

    name = "alerts"

    def __init__(self, store: AlertStore, started: float, grace_s: float) -> None:
        self._store = store
        self.started = started
        self.grace_s = grace_s
        self._open: dict[tuple[str, str | None], OpenAlert] = {}
        self._waiting: dict[tuple[str, str | None], AlertLatch | None] = {}
        """Restored alerts without a verdict yet: the latch carrying each, None before one claims."""
        self._superseded: list[OpenAlert] = []
        for a in store.load():
            if is_alert(a.alert):
                self._open[(a.alert, a.key)] = a
                self._waiting[(a.alert, a.key)] = None

    @property
    def open_alerts(self) -> list[OpenAlert]:
        """The open alerts, as saved."""
        return list(self._open.values())

    def settling(self, at: float) -> bool:
        """True while an absent condition is no verdict yet (:data:`SETTLE_S` after the start)."""
        return at - self.started < min(SETTLE_S, self.grace_s)

    def claim(self, latch: AlertLatch) -> ActiveAlert | None:
        """A new latch asks whether its alert was open before the restart."""
        k = (latch.alert, latch.key)
        if k not in self._waiting or self._waiting[k] is not None:
            return None
        self._waiting[k] = latch
        a = self._open[k]
        return ActiveAlert(a.alert_id, a.since)

    def decided(self, latch: AlertLatch) -> None:
        """The analyser gave its first verdict on a restored alert."""
        self._waiting.pop((latch.alert, latch.key), None)

    def supersede(self, latch: AlertLatch, active: ActiveAlert) -> None:
        """A restored alert is replaced by a new raise: clear it on the next tick."""
        k = (latch.alert, latch.key)
        self._waiting.pop(k, None)
        old = self._open.pop(k, None)
        if old is not None:
            self._superseded.append(old)
            self._save()

    def opened(self, latch: AlertLatch, active: ActiveAlert, at: float) -> None:
        self._open[(latch.alert, latch.key)] = OpenAlert(
            latch.alert, latch.key, active.alert_id, active.since, at
        )
        self._save()

    def closed(self, latch: AlertLatch) -> None:
        if self._open.pop((latch.alert, latch.key), None) is not None:
            self._save()

    def _save(self) -> None:
        self._store.save(list(self._open.values()))

    # -- the analyser side -----------------------------------------------------------------------
    def feed(self, observation: object) -> Sequence[Event]:
        return []

    def tick(self, now: float) -> Sequence[Event]:
        """Clears of superseded restored alerts, and of those unconfirmed after the grace."""
        events: list[Event] = [
            AlertEvent(now, a.alert, "cleared", a.alert_id, RESTART_SUPERSEDED, zone=a.key)
            for a in self._superseded
        ]
        self._superseded.clear()
        if self._waiting and now - self.started >= self.grace_s:
            reason = RESTART_EXPIRED.format(grace=self.grace_s)
            for k, latch in list(self._waiting.items()):
                del self._waiting[k]
                if latch is not None:
                    change = latch.expire(now, reason)
                    if change is not None:
                        events.append(change.event(reason, zone=latch.key))
                    continue
                a = self._open.pop(k, None)
                if a is not None:
                    events.append(
                        AlertEvent(now, a.alert, "cleared", a.alert_id, reason, zone=a.key)
                    )
            self._save()
        return events
