"""The loop's settings: rectification deadline, escalation window and thresholds, automatic
verification and issuing, the daily drafting time. Checked when built; a bad value names itself."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import time


class LoopSettingsError(ValueError):
    """A loop setting out of range; the message names it."""


@dataclass(frozen=True)
class LoopSettings:
    """How the district runs its loop (docs/CENTRAL.md, "The supervisors' loop")."""

    deadline_days: int = 3
    """Days after the notice's day by which the clinic must rectify."""
    window_days: int = 30
    """The rolling window notices are counted in, per clinic."""
    report_at: int = 1
    """Notices in the window from which a written rectification report is required."""
    summon_at: int = 3
    """Notices in the window from which the clinic's leaders are summoned."""
    auto_verify_days: int = 3
    """Open days without recurrence after which a case is verified automatically (0: never)."""
    auto_issue: bool = False
    """Issue the drafts as soon as they are drafted (no officer review)."""
    draft_at: str = "18:00"
    """Local time the day's notices are drafted."""
    offline_min_s: float = 600.0
    """A lost connection shorter than this is not a problem."""

    def __post_init__(self) -> None:
        checks = {
            "deadline_days": 0 <= self.deadline_days <= 365,
            "window_days": 1 <= self.window_days <= 366,
            "report_at": 1 <= self.report_at <= 100,
            "summon_at": self.report_at <= self.summon_at <= 100,
            "auto_verify_days": 0 <= self.auto_verify_days <= 90,
            "offline_min_s": 0 <= self.offline_min_s <= 86400,
        }
        for name, ok in checks.items():
            if not ok:
                raise LoopSettingsError(f"{name}: {getattr(self, name)!r} is out of range")
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", self.draft_at):
            raise LoopSettingsError(f"draft_at: {self.draft_at!r} is not HH:MM")

    @property
    def draft_time(self) -> time:
        hh, mm = self.draft_at.split(":")
        return time(int(hh), int(mm))


ENV_NAMES = {
    "deadline_days": "DEADLINE_DAYS",
    "window_days": "ESCALATION_WINDOW_DAYS",
    "report_at": "WRITTEN_REPORT_AT",
    "summon_at": "SUMMON_AT",
    "auto_verify_days": "AUTO_VERIFY_DAYS",
    "auto_issue": "AUTO_ISSUE",
    "draft_at": "DRAFT_AT",
    "offline_min_s": "OFFLINE_MIN_S",
}
"""Setting -> ``TRIAGE_CENTRAL_<NAME>`` environment variable."""


def settings_from(values: dict[str, str | None]) -> LoopSettings:
    """Settings from text values (flags or the environment); None or '' keeps the default. A value
    that is not a number, a flag or a time names its setting."""
    kw: dict[str, object] = {}
    for name, raw in values.items():
        if raw is None or raw == "":
            continue
        if name == "auto_issue":
            if raw not in ("0", "1", "true", "false"):
                raise LoopSettingsError(f"auto_issue: {raw!r} is not 0 or 1")
            kw[name] = raw in ("1", "true")
        elif name == "draft_at":
            kw[name] = raw
        else:
            try:
                kw[name] = float(raw) if name == "offline_min_s" else int(raw)
            except ValueError:
                raise LoopSettingsError(f"{name}: {raw!r} is not a number") from None
    return LoopSettings(**kw)  # type: ignore[arg-type]


def settings_from_env() -> LoopSettings:
    """:class:`LoopSettings` from ``TRIAGE_CENTRAL_DEADLINE_DAYS`` etc. (:data:`ENV_NAMES`)."""
    return settings_from({k: os.environ.get(f"TRIAGE_CENTRAL_{v}") for k, v in ENV_NAMES.items()})
