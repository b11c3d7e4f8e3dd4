"""Registry changes made by people, audited: saving a clinic from the dashboard, importing the CSV,
changing an opening status. Each writes the registry (central/registry) and the audit entry in the
caller's transaction (the registry sits beside the audit trail, so the audited edit lives here)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from central.audit.trail import record
from central.registry.clinics import Change, Clinic, Status, save, set_status
from central.registry.csvfile import read


@dataclass(frozen=True)
class ImportResult:
    """Rows in the file, clinics added or changed."""

    rows: int
    changed: int


def _audit(conn: Connection, change: Change, action: str, actor: str, role: str) -> None:
    record(
        conn,
        actor=actor,
        role=role,
        action=action,
        target_kind="clinic",
        target_id=change.site,
        site=change.site,
        detail={"created": change.created, "changes": change.changes},
    )


def save_clinic(conn: Connection, clinic: Clinic, *, actor: str, role: str) -> bool:
    """Save one clinic; True when something changed (and was audited)."""
    change = save(conn, clinic)
    if change is not None:
        _audit(conn, change, "registry.edited", actor, role)
    return change is not None


def import_csv(conn: Connection, text: str, *, actor: str, role: str) -> ImportResult:
    """Check the whole file (:class:`~central.registry.csvfile.ImportRefusedError` names every
    bad row), then save every clinic; nothing is written when a row is bad."""
    found = read(text)
    changed = 0
    for c in found:
        change = save(conn, c)
        if change is not None:
            _audit(conn, change, "registry.imported", actor, role)
            changed += 1
    return ImportResult(rows=len(found), changed=changed)


def change_status(conn: Connection, site: str, status: Status, *, actor: str, role: str) -> None:
    change = set_status(conn, site, status)
    if change is not None:
        _audit(conn, change, "registry.edited", actor, role)
