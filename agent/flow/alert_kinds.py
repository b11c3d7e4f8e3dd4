"""Alert kinds, declared once: every alert the agent can raise is one :class:`AlertKind` in :data:`ALERTS`.

A declaration says everything the rest of the agent and the contract need to know about an alert:

- ``name``: the ``alert`` value on the wire (``^[a-z][a-z0-9_]{1,31}$``);
- ``family``: the wire's ``family`` (``screening``, ``mask``, ``occupancy``, ``setup``);
- ``counted``: whether its raises are counted in the summary's ``alerts`` map (the rule
  subscribers read from ``family``: every alert but the ``setup`` ones);
- ``minutes``: the summary's ``minutes`` figure its open time adds to, or None (not timed);
- ``unit``: what the alert's ``value`` measures (docs/EVENTS.md);
- ``label``: the words a person reads for it.

Everything else is derived from :data:`ALERTS`: the ``alert`` and ``family`` enums of
``agent/wire/schemas/alert.json``, the ``alerts`` names and ``maxProperties`` and the ``minutes``
keys of ``summary.json`` (:mod:`agent.wire.derived` regenerates them; a test checks the files on
disk), the summary's counting and grouping (:mod:`agent.flow.summary`), the latch's check of a name
(:mod:`agent.flow.alerts`), and the "Alert kinds" table of docs/EVENTS.md (checked by a test).

Code reads the registry through this module at call time (``alert_kinds.ALERTS``), never a copy
made at import, so a test may extend it (:meth:`AlertRegistry.extended`) and monkeypatch it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

AlertFamily = Literal["screening", "mask", "occupancy", "setup"]
FAMILIES: tuple[AlertFamily, ...] = ("screening", "mask", "occupancy", "setup")
"""Every family, in the schema's order. ``setup``: the triage point is not set up, not staffed or
cannot be trusted (not that a patient needs attention)."""

MINUTES_GROUPS: tuple[str, ...] = ("desk", "crowding", "setup", "offline")
"""The summary's ``minutes`` keys, in wire order. ``offline`` is no alert's: the agent was not
running. A new group is one more name here (and its meaning in docs/EVENTS.md)."""

NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


@dataclass(frozen=True, slots=True)
class AlertKind:
    """One alert the agent can raise."""

    name: str
    family: AlertFamily
    label: str
    """What a person reads for it ("Patient without a mask")."""
    unit: str
    """What the alert's ``value`` measures ("°C", "people"...)."""
    counted: bool
    """Raises counted in the summary's ``alerts`` map."""
    minutes: str | None = None
    """The summary's ``minutes`` figure its open time adds to, None when not timed."""

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise ValueError(f"alert name {self.name!r} must match {NAME.pattern}")
        if self.family not in FAMILIES:
            raise ValueError(f"alert {self.name}: unknown family {self.family!r}")
        if self.minutes is not None and self.minutes not in MINUTES_GROUPS[:-1]:
            raise ValueError(f"alert {self.name}: unknown minutes group {self.minutes!r}")
        if self.counted == (self.family == "setup"):
            raise ValueError(
                f"alert {self.name}: setup alerts are timed, not counted, and every other family "
                "is counted (subscribers tell them apart by family: docs/EVENTS.md)"
            )


@dataclass(frozen=True, slots=True)
class AlertRegistry:
    """The declared alerts, in wire order (the schema's enum order)."""

    kinds: tuple[AlertKind, ...]
    _by_name: dict[str, AlertKind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {k.name: k for k in self.kinds}
        if len(by_name) != len(self.kinds):
            raise ValueError("alert names must be unique")
        object.__setattr__(self, "_by_name", by_name)

    def __iter__(self) -> Iterator[AlertKind]:
        return iter(self.kinds)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> AlertKind:
        """The declaration of ``name``; :class:`KeyError` naming the known ones otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name)
            raise KeyError(f"unknown alert {name!r}; declared: {known}") from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds)

    @property
    def counted(self) -> tuple[str, ...]:
        """Names counted in the summary's ``alerts`` map, in wire order."""
        return tuple(k.name for k in self.kinds if k.counted)

    def timed(self, group: str) -> tuple[str, ...]:
        """Names whose open time adds to the ``minutes`` figure ``group``."""
        return tuple(k.name for k in self.kinds if k.minutes == group)

    def extended(self, *more: AlertKind) -> AlertRegistry:
        """This registry with ``more`` declarations after its own."""
        return AlertRegistry((*self.kinds, *more))


ALERTS = AlertRegistry(
    (
        AlertKind("fever", "screening", "Fever", "°C", counted=True),
        AlertKind("unmasked", "mask", "Patient without a mask", "seconds unmasked", counted=True),
        AlertKind("crowding", "occupancy", "Crowding", "people", counted=True, minutes="crowding"),
        AlertKind(
            "staff_unmasked", "mask", "Staff without a mask", "seconds unmasked", counted=True
        ),
        AlertKind(
            "desk_unattended",
            "setup",
            "Triage desk unattended",
            "patients waiting",
            counted=False,
            minutes="desk",
        ),
        AlertKind(
            "camera_covered",
            "setup",
            "Camera covered",
            "% of the view featureless",
            counted=False,
            minutes="setup",
        ),
        AlertKind(
            "camera_dark",
            "setup",
            "Camera too dark",
            "mean brightness 0-255",
            counted=False,
            minutes="setup",
        ),
        AlertKind(
            "camera_blurred",
            "setup",
            "Camera out of focus",
            "sharpness, % of the commissioned view",
            counted=False,
            minutes="setup",
        ),
        AlertKind(
            "camera_moved",
            "setup",
            "Camera moved",
            "% of landmarks in place",
            counted=False,
            minutes="setup",
        ),
        AlertKind(
            "camera_lost",
            "setup",
            "Camera not delivering",
            "seconds without a frame",
            counted=False,
            minutes="setup",
        ),
        AlertKind(
            "thermometer_lost",
            "setup",
            "Thermometer not delivering",
            "seconds without a reading",
            counted=False,
            minutes="setup",
        ),
        AlertKind(
            "screening_skipped",
            "setup",
            "People entering unscreened",
            "arrivals unscreened",
            counted=False,
        ),
    )
)
"""Every alert the agent raises. Adding one: docs/ARCHITECTURE.md, "How to add... an alert"."""


def alert_kind(name: str) -> AlertKind:
    """The declaration of ``name`` in the current registry (KeyError when undeclared)."""
    return ALERTS[name]


def is_alert(name: str) -> bool:
    """Whether ``name`` is declared in the current registry."""
    return name in ALERTS
