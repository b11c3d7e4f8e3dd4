"""The district's problem kinds, declared once: what a supervisor checks at every triage point.

A district health-supervision office checks each clinic's triage point for four problems (its own
words, ../shared/glossary-zh.md): the triage point not set up or not staffed / not working, staff
without protection, crowding, patients indoors without masks. Every alert a box raises maps to one
of them, except screening results: a fever is what a triage point is for (the box sends the person
to the fever clinic), never a clinic problem; fevers are counted as screening results only.

"Triage point not working" covers the desk left unattended, the camera or thermometer not usable,
people let in unscreened, and the box offline (the periods it was not connected: :data:`OFFLINE`).
Alert names not known here are placed by the ``family`` the box sends with them (docs/EVENTS.md,
"Alert kinds": ``setup`` -> not working, ``mask`` -> patients without masks, ``occupancy`` ->
crowding, ``screening`` -> a screening result); a name with neither is an "other problem", shown,
never dropped. Central never imports the agent: the alert names are read from docs/EVENTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from central.config import ConfigError
from central.i18n import N_, Translator

NOT_WORKING: Final = "not_working"
STAFF: Final = "staff"
CROWDING: Final = "crowding"
UNMASKED: Final = "unmasked"
OTHER: Final = "other"


@dataclass(frozen=True, slots=True)
class ProblemKind:
    """One kind of problem: its key (stable, in URLs and CSV), its label and a short label."""

    key: str
    label: str
    """English, marked with N_; translated where shown (``t.gettext(kind.label)``)."""
    short: str
    """For narrow columns and chart legends."""


KINDS: Final[tuple[ProblemKind, ...]] = (
    ProblemKind(
        NOT_WORKING,
        N_("Triage point not set up, not staffed or not working"),
        N_("Triage point not working"),
    ),
    ProblemKind(STAFF, N_("Staff without protection"), N_("Staff without protection")),
    ProblemKind(CROWDING, N_("Crowding"), N_("Crowding")),
    ProblemKind(UNMASKED, N_("Patients indoors without masks"), N_("Patients without masks")),
    ProblemKind(OTHER, N_("Other problem"), N_("Other problem")),
)
"""The supervisor's four kinds in the order of the district's documents, then "other"."""

BY_KEY: Final = {k.key: k for k in KINDS}

OFFLINE: Final = "offline"
"""Pseudo alert name for a period the box was not connected (from its ``status`` events)."""

ALERT_KINDS: Final[dict[str, str]] = {
    "desk_unattended": NOT_WORKING,
    "camera_covered": NOT_WORKING,
    "camera_dark": NOT_WORKING,
    "camera_blurred": NOT_WORKING,
    "camera_moved": NOT_WORKING,
    "camera_lost": NOT_WORKING,
    "thermometer_lost": NOT_WORKING,
    "screening_skipped": NOT_WORKING,
    OFFLINE: NOT_WORKING,
    "staff_unmasked": STAFF,
    "crowding": CROWDING,
    "unmasked": UNMASKED,
}
"""Alert names (docs/EVENTS.md, "Alert kinds") -> problem kind."""

SCREENINGS: Final = frozenset({"fever"})
"""Alerts that are screening results, not problems."""

FAMILY_KINDS: Final[dict[str, str | None]] = {
    "setup": NOT_WORKING,
    "mask": UNMASKED,
    "occupancy": CROWDING,
    "screening": None,
}
"""The box's ``family`` field -> kind, for alert names not in :data:`ALERT_KINDS`."""


def kind_of(alert: str, family: str | None = None) -> str | None:
    """The problem kind of alert ``alert`` (its ``family`` on the wire for names not known here),
    or None for a screening result (a fever), which is no problem."""
    if alert in SCREENINGS:
        return None
    if alert in ALERT_KINDS:
        return ALERT_KINDS[alert]
    if family is not None and family in FAMILY_KINDS:
        return FAMILY_KINDS[family]
    if alert.startswith(("camera", "thermometer", "setup", "desk")):
        return NOT_WORKING
    return OTHER


def is_problem(alert: str, family: str | None = None) -> bool:
    return kind_of(alert, family) is not None


def parse_kind(text: str) -> str:
    """A kind key from a filter (``?kind=crowding``); :class:`ConfigError` naming the keys."""
    if text not in BY_KEY:
        raise ConfigError(f"kind: {text[:40]!r} is not one of {', '.join(BY_KEY)}")
    return text


def kind_label(key: str, t: Translator, short: bool = False) -> str:
    """The translated label of kind ``key``."""
    k = BY_KEY.get(key, BY_KEY[OTHER])
    return t.gettext(k.short if short else k.label)
