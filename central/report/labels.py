"""Names a supervisor reads for the alert names on the wire, and how each alert's value reads.

Alert names are open-ended (the contract grows additively): a name missing here is still reported,
with a label made from the name itself and its value shown as a plain number.
"""

from __future__ import annotations

from dataclasses import dataclass

from central.i18n import N_, Translator


@dataclass(frozen=True, slots=True)
class AlertLabel:
    """How one alert name is shown."""

    label: str
    family: str
    """``patient``, ``staff``, ``crowding``, ``setup`` (triage point not working) or ``other``."""
    unit: str
    """Suffix for the alert's value ("°C", "s", "people"...), empty for a plain number."""
    digits: int = 0


KNOWN: dict[str, AlertLabel] = {
    "fever": AlertLabel(N_("Fever"), "patient", "°C", 1),
    "unmasked": AlertLabel(N_("Patient without a mask"), "patient", N_("s unmasked")),
    "staff_unmasked": AlertLabel(N_("Staff without a mask"), "staff", N_("s unmasked")),
    "desk_unattended": AlertLabel(N_("Triage desk unattended"), "staff", N_("waiting")),
    "crowding": AlertLabel(N_("Crowding"), "crowding", N_("people")),
    "camera_covered": AlertLabel(N_("Camera covered"), "setup", ""),
    "camera_moved": AlertLabel(N_("Camera moved"), "setup", ""),
    "camera_blurred": AlertLabel(N_("Camera out of focus"), "setup", ""),
    "camera_dark": AlertLabel(N_("Camera too dark"), "setup", ""),
    "camera_lost": AlertLabel(N_("Camera not delivering"), "setup", ""),
    "thermometer_lost": AlertLabel(N_("Thermometer not delivering"), "setup", ""),
    "screening_skipped": AlertLabel(N_("People entering unscreened"), "setup", N_("unscreened")),
}
"""Labels and units are English, marked with N_ and translated where shown
(``t.gettext(label)``); the problem kind of each name is central/report/kinds.py's."""

CAUSE_LABELS: dict[tuple[str, str], str] = {
    ("unmasked", "worn_wrong"): N_("Patient wearing a mask incorrectly"),
    ("staff_unmasked", "worn_wrong"): N_("Staff wearing a mask incorrectly"),
}
"""A mask problem's label when its cause is a mask worn wrong (nose or mouth uncovered): the same
problem kind, its own words."""

OFFLINE = "offline"
"""Pseudo alert name for a period the box was not connected (from its ``status`` events)."""


def label_for(name: str) -> AlertLabel:
    """The label of ``name``; unknown names read as their words ("camera_tilted" -> "Camera tilted")."""
    if name in KNOWN:
        return KNOWN[name]
    if name == OFFLINE:
        return AlertLabel(N_("Box offline"), "setup", "")
    words = name.replace("_", " ").replace("-", " ").strip() or "alert"
    family = "setup" if name.startswith(("camera", "thermometer", "setup")) else "other"
    return AlertLabel(words[0].upper() + words[1:], family, "", 1)


def problem_label(name: str, cause: str | None = None) -> str:
    """The English label of a problem of alert ``name`` raised for ``cause`` (mark for translation:
    every value is an ``N_`` string or made from the name)."""
    return CAUSE_LABELS.get((name, cause or ""), label_for(name).label)


WIRE_FAMILIES = {
    "screening": "patient",
    "mask": "patient",
    "occupancy": "crowding",
    "setup": "setup",
}
"""The agent's alert ``family`` field -> the family used here, for alert names not in :data:`KNOWN`."""


def family_for(name: str, wire_family: str | None = None) -> str:
    """The family of an alert: from the label table, else from the box's own ``family`` field."""
    fam = label_for(name).family
    if fam == "other" and wire_family is not None:
        return WIRE_FAMILIES.get(wire_family, "other")
    return fam


def value_text(name: str, value: float | None, t: Translator | None = None) -> str:
    """The alert's value with its unit (translated with ``t``), or an empty string."""
    if value is None:
        return ""
    lab = label_for(name)
    number = f"{value:.{lab.digits}f}" if lab.digits else f"{round(value):d}"
    unit = t.gettext(lab.unit) if t is not None and lab.unit else lab.unit
    return f"{number} {unit}".strip()
