"""The open alerts kept across restarts: ``alerts.json`` in the state directory.

The file holds the alerts open at the last raise or clear (type, key, alert_id, since, raised_at);
:class:`agent.flow.alerts.AlertBook` reads it at start and rewrites it on every change. Writes are
atomic (a temporary file in the same folder, fsync, rename, fsync of the folder): a power cut leaves
the old list or the new one, never half a file. Never raises: a file that cannot be read counts as
no open alerts (logged), a write that fails is logged and retried with the next change.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from agent.flow.alert_kinds import is_alert
from agent.flow.alerts import OpenAlert

log = logging.getLogger(__name__)

FILE_NAME = "alerts.json"
VERSION = 1


class AlertFile:
    """An :class:`agent.flow.alerts.AlertStore` in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> AlertFile:
        return cls(state_dir / FILE_NAME)

    def load(self) -> list[OpenAlert]:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.error("cannot read %s: %s; alerts open before the restart are lost", self.path, exc)
            return []
        try:
            doc = json.loads(text)
            return [
                OpenAlert(
                    alert=a["alert"],
                    key=None if a.get("key") is None else str(a["key"]),
                    alert_id=str(a["alert_id"]),
                    since=float(a["since"]),
                    raised_at=float(a["raised_at"]),
                )
                for a in doc["open"]
                if is_alert(a["alert"])
            ]
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "%s is unreadable (%s); alerts open before the restart are lost", self.path, exc
            )
            return []

    def save(self, alerts: Sequence[OpenAlert]) -> None:
        doc = {
            "version": VERSION,
            "open": [
                {
                    "alert": a.alert,
                    "key": a.key,
                    "alert_id": a.alert_id,
                    "since": a.since,
                    "raised_at": a.raised_at,
                }
                for a in alerts
            ],
        }
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("cannot save the open alerts to %s: %s", self.path, exc)
