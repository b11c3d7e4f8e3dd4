"""The supervisor's problem kinds and the problems of a day per clinic.

The district checks four problems (the triage point not set up or not staffed; staff without
protection; crowding; patients indoors without masks) plus "triage point not working" (camera,
thermometer or the box offline). Fevers are screening results, never clinic problems.

:func:`day_problems` reads them from the daily report (central/report/daily.py): alerts raised
during the day, and lost connections of at least ``offline_min_s`` (a clean stop at closing time is
not a problem).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from central.i18n import N_
from central.report.daily import daily_report
from central.report.labels import OFFLINE, family_for

KINDS: Final[tuple[str, ...]] = (
    "not_staffed",
    "staff_unprotected",
    "crowding",
    "patients_unmasked",
    "not_working",
)

KIND_LABELS: Final[dict[str, str]] = {
    "not_staffed": N_("Triage point not set up or not staffed"),
    "staff_unprotected": N_("Staff without protection"),
    "crowding": N_("Crowding"),
    "patients_unmasked": N_("Patients indoors without masks"),
    "not_working": N_("Triage point not working"),
}

KIND_ACTIONS: Final[dict[str, str]] = {
    "not_staffed": N_("Set up the triage point and keep it staffed during all opening hours."),
    "staff_unprotected": N_("Make every staff member wear a mask and protection at all times."),
    "crowding": N_("Keep patients apart: limit the number waiting inside and organise the queue."),
    "patients_unmasked": N_("Make patients wear masks indoors; offer masks at the entrance."),
    "not_working": N_(
        "Repair the triage point's equipment (camera, thermometer, network) and keep it running."
    ),
}

_BY_ALERT: Final[dict[str, str]] = {
    "desk_unattended": "not_staffed",
    "staff_unmasked": "staff_unprotected",
    "crowding": "crowding",
    "unmasked": "patients_unmasked",
    OFFLINE: "not_working",
}


def kind_of(alert: str, wire_family: str | None = None) -> str | None:
    """The problem kind of an alert name, or None (fevers and unknown alerts are not problems)."""
    if alert in _BY_ALERT:
        return _BY_ALERT[alert]
    if family_for(alert, wire_family) == "setup":
        return "not_working"
    return None


def alerts_of(kind: str, names: list[str]) -> list[str]:
    """Which of ``names`` are of ``kind``."""
    return [n for n in names if kind_of(n) == kind]


@dataclass(frozen=True)
class FoundProblem:
    """One problem of a day at one desk."""

    kind: str
    alert: str
    desk: str
    raised: float | None
    cleared: float | None
    duration_s: float | None
    value: float | None

    @property
    def key(self) -> str:
        """Stable across redrafts: desk, alert and start."""
        return f"{self.desk}/{self.alert}/{self.raised if self.raised is not None else '-'}"


def day_problems(
    engine: Engine,
    day: date,
    tz: ZoneInfo,
    offline_min_s: float = 600.0,
    now: float | None = None,
) -> dict[str, list[FoundProblem]]:
    """site -> the day's problems, oldest first (sites without problems are left out)."""
    report = daily_report(engine, day, tz, now=now)
    w = report.window
    end = min(report.generated, w.end)
    out: dict[str, list[FoundProblem]] = defaultdict(list)
    for d in report.desks:
        for p in d.problems:
            kind = kind_of(p.alert, p.family)
            begin = p.raised if p.raised is not None else p.cleared
            if kind is None or begin is None or not w.contains(begin):
                continue
            dur = p.duration(end) if p.raised is not None else None
            out[d.site].append(
                FoundProblem(kind, p.alert, d.desk, p.raised, p.cleared, dur, p.value)
            )
        for o in d.offline:
            if o.how != "connection lost" or not w.contains(o.start):
                continue
            dur = o.duration(end)
            if dur < offline_min_s:
                continue
            out[d.site].append(
                FoundProblem("not_working", OFFLINE, d.desk, o.start, o.end, dur, None)
            )
    return {
        s: sorted(ps, key=lambda p: (p.raised or 0.0, p.desk, p.alert))
        for s, ps in sorted(out.items())
    }
