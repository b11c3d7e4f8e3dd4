"""Typed events: the facts the agent publishes, as frozen value objects.

Analysers create these; nothing here knows about topics, JSON or MQTT (that is :mod:`agent.wire.contract`).
Every event carries ``at``: the POSIX time (seconds, UTC) of the fact it reports. The envelope fields
every message carries on the wire (schema version, event id, sequence number, device identity) are
added by the contract when the event enters the outbox.

Privacy rule, enforced by the JSON schemas: no event holds an image, a crop, an embedding or a face
box. Only counts, states, temperatures and durations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from agent.flow.alert_kinds import AlertFamily, alert_kind

AvailabilityState = Literal["online", "offline", "stopping"]
AvailabilityReason = Literal["stopped", "lost"]
TemperatureResult = Literal["normal", "fever", "invalid"]
MaskState = Literal["masked", "unmasked", "no_face"]
MaskCause = Literal["no_mask", "worn_wrong"]
"""Why a face is not compliant: no mask, or a mask worn wrong (nose or mouth uncovered)."""
AlertType = str
"""An alert name declared in :data:`agent.flow.alert_kinds.ALERTS` (the one place alerts are
declared: family, counted or timed, value unit, label); latches refuse undeclared names."""
AlertState = Literal["raised", "cleared"]
SourceStateName = Literal["starting", "ok", "stale", "disconnected", "disabled", "error"]


@dataclass(frozen=True, slots=True)
class AvailabilityEvent:
    """Availability of the agent: the wire's ``status`` kind and topic (a v1 name, kept).
    Retained; ``offline`` is also the MQTT Will. Not to be confused with ``triage-agent status``
    (the local snapshot, :mod:`agent.service.snapshot`) or systemd's ``STATUS=`` line."""

    kind: ClassVar[str] = "status"
    retain: ClassVar[bool] = True
    at: float
    state: AvailabilityState
    reason: AvailabilityReason | None = None
    """For ``offline``: ``stopped`` (a clean stop) or ``lost`` (the Will: the connection ended
    any other way; then ``at`` is when that connection began, the loss came later)."""
    health_every_s: int | None = None
    """For ``online``: seconds between health events (the freshness rule in docs/EVENTS.md)."""
    models: dict[str, str] | None = None
    """The models vision runs, by task (``face``, ``mask``, ``person``): ``<name>@<first 8 hex of
    the file's sha256>`` (:func:`agent.vision.manifest.label`); None when vision does not run.
    Fixed for a run, so it rides on every status of the run (the health event has no room)."""


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source's state in a health event (``since`` = POSIX time the state began)."""

    state: SourceStateName
    since: float
    age_s: float | None = None
    """Seconds since the last valid data, None if none yet."""
    fps: float | None = None
    errors: int = 0
    """Frames/reads rejected (bad checksum, decode error) since start."""


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """Periodic, retained health of the device."""

    kind: ClassVar[str] = "health"
    retain: ClassVar[bool] = True
    at: float
    uptime_s: int
    version: str
    sources: dict[str, SourceHealth]
    outbox_depth: int
    outbox_oldest_s: int | None
    rejected: int
    """Inputs rejected by the sources since start (sum of their ``errors``)."""
    dropped: int
    """Observations or events dropped because a bounded queue was full."""
    evicted: int
    """Outbox messages evicted unsent (size or age bound)."""
    inference_ms: float | None = None
    storage: str | None = None
    """The outbox's current storage fault (``disk full``, ``read-only``, ``I/O error``,
    ``corrupt``), None when it works."""
    outbox_resets: int | None = None
    """Outboxes found corrupt, empty or missing and replaced by a fresh one (None when none)."""
    clock: Literal["unsynced"] | None = None
    """``unsynced`` while the system clock is not synchronised (``ts`` may be hours or days off);
    None when it is."""
    shed: ClassVar[tuple[str, ...]] = ("inference_ms", "outbox_oldest_s")
    """Optional fields the wire leaves out, in this order, if the payload would exceed its bound."""


@dataclass(frozen=True, slots=True)
class TemperatureEvent:
    """One screening result per person presentation."""

    kind: ClassVar[str] = "temperature"
    retain: ClassVar[bool] = False
    at: float
    result: TemperatureResult
    object_c: float
    """Robust plateau estimate of the raw object temperature."""
    ambient_c: float
    estimate_c: float
    """Body-temperature estimate after offset and (optional) ambient correction."""
    threshold_c: float
    plateau_s: float
    samples: int
    offset_c: float = 0.0


@dataclass(frozen=True, slots=True)
class MaskEvent:
    """Mask state change (``window_s`` is None) or periodic compliance over a window."""

    kind: ClassVar[str] = "mask"
    retain: ClassVar[bool] = False
    at: float
    state: MaskState
    faces: int
    masked: int
    unmasked: int
    window_s: float | None = None
    staff_faces: int | None = None
    """Periodic events with a staff zone configured: distinct staff faces seen in the window
    (``faces``/``masked``/``unmasked`` then count patients and visitors only)."""
    staff_masked: int | None = None
    staff_unmasked: int | None = None
    worn_wrong: int | None = None
    """Of the ``unmasked`` (not compliant), those wearing a mask wrong: nose or mouth uncovered
    (always 0 with a mask model of two verdicts)."""
    staff_worn_wrong: int | None = None
    """Of the ``staff_unmasked``, those wearing a mask wrong (with a staff zone configured)."""


@dataclass(frozen=True, slots=True)
class OccupancyEvent:
    """Occupancy change (``window_s`` None) or periodic maximum over a window."""

    kind: ClassVar[str] = "occupancy"
    retain: ClassVar[bool] = False
    at: float
    count: int
    max: int
    limit: int
    window_s: float | None = None
    people: int | None = None
    """Distinct people first seen in the window (periodic events only, else None)."""
    zones: dict[str, int] | None = None
    """People per configured zone: now (changes) or the window maximum (periodic); None when no
    zones are configured."""


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert raised or cleared; ``alert_id`` ties the two together."""

    kind: ClassVar[str] = "alert"
    retain: ClassVar[bool] = False
    at: float
    alert: AlertType
    state: AlertState
    alert_id: str
    message: str
    value: float | None = None
    """The measured value behind the alert: temperature, people count, seconds unmasked, patients
    waiting (``desk_unattended``), or for the camera alerts the figure the check measured (see
    docs/EVENTS.md)."""
    zone: str | None = None
    """The zone the alert is about (``crowding`` and ``staff_unmasked`` with zones), else None."""
    cause: MaskCause | None = None
    """Why a raised mask alert (``unmasked``, ``staff_unmasked``) was raised: no mask, or a mask
    worn wrong; None for other alerts and for clears."""

    @property
    def family(self) -> AlertFamily:
        """The alert's family (its declaration in :mod:`agent.flow.alert_kinds`); on the wire as
        ``family``."""
        return alert_kind(self.alert).family


@dataclass(frozen=True, slots=True)
class SummaryEvent:
    """Counts over one period of the clinic's clock ``[at - window_s, at]`` (see
    :mod:`agent.flow.summary`)."""

    kind: ClassVar[str] = "summary"
    retain: ClassVar[bool] = False
    at: float
    """The period's end."""
    window_s: float
    """The period's true length (``at - window_s`` is its start)."""
    screened: int
    """Valid temperature results (normal or fever) in the period; ``invalid`` ones are apart."""
    fevers: int
    invalid: int
    people: int
    """Arrivals: distinct people the camera saw come in during the period."""
    mask_violations: int
    max_occupancy: int
    alerts: dict[str, int] = field(default_factory=dict)
    """Alerts raised in the period by type (screening, mask and occupancy families)."""
    period: str | None = None
    """``"15min"`` (the aligned reporting period, named for its length) or ``"day"``."""
    date: str | None = None
    """The local date (``device.timezone``) the period belongs to, ``YYYY-MM-DD``."""
    start: str | None = None
    """The period's local start time, ``HH:MM``."""
    minutes: dict[str, float] | None = None
    """Minutes of problems in the period: ``desk`` (unattended), ``crowding``, ``setup`` (camera or
    thermometer not usable) and ``offline`` (the agent was not running)."""
    arrivals_screened: int | None = None
    """Arrivals matched to a valid temperature result (sum of the ``coverage`` events); None when
    the period had no ``coverage`` figures (no camera or thermometer, nothing judged)."""
    arrivals_unscreened: int | None = None
    """Arrivals with no valid temperature result within ``screening.coverage_match_s``."""
    scans: int | None = None
    """Registration scans counted (None: no scanner, or no ``coverage`` figures)."""
    masks_worn_wrong: int | None = None
    """Of the mask alerts raised in the period (patients and staff), those for a mask worn wrong
    (their ``cause``)."""


@dataclass(frozen=True, slots=True)
class CoverageEvent:
    """Screening coverage and registration scans over a window (see :mod:`agent.flow.coverage`):
    arrivals judged screened or not in the window, results that matched no arrival, scans."""

    kind: ClassVar[str] = "coverage"
    retain: ClassVar[bool] = False
    at: float
    window_s: float
    arrivals_screened: int | None = None
    """Arrivals matched to a valid temperature result (None: no camera or no thermometer)."""
    arrivals_unscreened: int | None = None
    """Arrivals with no valid result within the matching time."""
    results_unmatched: int | None = None
    """Valid temperature results that matched no arrival (staff, re-measures, missed people)."""
    scans: int | None = None
    """Registration scans counted (None: no scanner configured)."""


Event = (
    AvailabilityEvent
    | HealthEvent
    | TemperatureEvent
    | MaskEvent
    | OccupancyEvent
    | AlertEvent
    | SummaryEvent
    | CoverageEvent
)
EVENT_TYPES: tuple[type[Event], ...] = (
    AvailabilityEvent,
    HealthEvent,
    TemperatureEvent,
    MaskEvent,
    OccupancyEvent,
    AlertEvent,
    SummaryEvent,
    CoverageEvent,
)
KINDS: tuple[str, ...] = tuple(t.kind for t in EVENT_TYPES)
