"""The registry as CSV: one row per clinic, UTF-8 (a byte-order mark is written on export and
tolerated on import), the columns of :data:`COLUMNS` (docs/CENTRAL.md, "The supervisors' loop").

:func:`read` checks every row first and names each bad one with its line and column; only when the
whole file is good does central/loop/registry_edits.py write anything, in one transaction, each
changed clinic audited (``registry.imported``). Clinics missing from the file are left as they are.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection

from central.i18n import N_
from central.registry.clinics import (
    PARTIES,
    Clinic,
    Recipient,
    RegistryError,
    all_clinics,
    check_clinic,
    check_recipient,
    check_responsible,
    check_site,
)

PARTY_FIELDS: Final = ("person", "phone", "email", "webhook", "username")
COLUMNS: Final[tuple[str, ...]] = (
    "site",
    "name",
    "address",
    "sub_district",
    "community",
    "status",
    *(f"{p}_{f}" for p in PARTIES for f in PARTY_FIELDS),
    "recipients",
)
REQUIRED: Final = ("site", "name")


@dataclass(frozen=True)
class RowError:
    """One bad cell: the file's line (1 = the header), the column and what is wrong."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.message}"


class ImportRefusedError(ValueError):
    """The file has bad rows; nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "\n".join(str(e) for e in errors[:50])
        more = f"\n... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{len(errors)} bad row(s), nothing imported:\n{shown}{more}")


def parse_recipients(text: str) -> tuple[Recipient, ...]:
    """``[lang]channel:address; ...`` (e.g. ``email:a@b.cn; [en]wecom:https://...``)."""
    out: list[Recipient] = []
    for cell in (p.strip() for p in text.split(";")):
        if not cell:
            continue
        lang, part = "", cell
        if cell.startswith("["):
            end = cell.find("]")
            if end < 0:
                raise RegistryError(
                    "recipients", N_("%(value)s: '[' without ']'"), value=repr(cell)
                )
            lang, part = cell[1:end], cell[end + 1 :].strip()
        channel, sep, address = part.partition(":")
        if not sep:
            raise RegistryError(
                "recipients", N_("%(value)s is not channel:address"), value=repr(part)
            )
        out.append(check_recipient(channel.strip(), address.strip(), lang))
    return tuple(out)


def recipients_text(recipients: tuple[Recipient, ...]) -> str:
    return "; ".join(
        (f"[{r.language}]" if r.language else "") + f"{r.channel}:{r.address}" for r in recipients
    )


def _clinic(row: dict[str, str]) -> Clinic:
    check_site(row.get("site") or "")
    parties = []
    for p in PARTIES:
        values = {f: (row.get(f"{p}_{f}") or "") for f in PARTY_FIELDS}
        if not any(v.strip() for v in values.values()):
            continue
        parties.append(check_responsible(p, **values))
    return check_clinic(
        site=row.get("site") or "",
        name=row.get("name") or "",
        address=row.get("address") or "",
        sub_district=row.get("sub_district") or "",
        community=row.get("community") or "",
        status=row.get("status") or "open",
        parties=parties,
        recipients=parse_recipients(row.get("recipients") or ""),
    )


def read(text: str) -> list[Clinic]:
    """The clinics of a CSV text, or :class:`ImportRefusedError` listing every bad row."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    errors: list[RowError] = []
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        errors.append(RowError(1, unknown[0], f"unknown column (columns: {', '.join(COLUMNS)})"))
    for col in REQUIRED:
        if col not in header:
            errors.append(RowError(1, col, "missing column"))
    if errors:
        raise ImportRefusedError(errors)
    out: list[Clinic] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            errors.append(RowError(line, "-", "more cells than columns"))
            continue
        try:
            c = _clinic({k: _unsafe(v or "") for k, v in row.items()})
        except RegistryError as exc:
            errors.append(RowError(line, exc.field, exc.message))
            continue
        if c.site in seen:
            errors.append(RowError(line, "site", f"{c.site} is already on line {seen[c.site]}"))
            continue
        seen[c.site] = line
        out.append(c)
    if errors:
        raise ImportRefusedError(errors)
    return out


def export_text(conn: Connection) -> str:
    """The registry as CSV text with a byte-order mark (spreadsheets in a Chinese locale)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for c in all_clinics(conn):
        cells: list[str] = [c.site, c.name, c.address, c.sub_district, c.community, c.status]
        for p in PARTIES:
            r = c.party(p)
            cells += (
                [r.person, r.phone, r.email, r.webhook, r.username or ""]
                if r
                else [""] * len(PARTY_FIELDS)
            )
        cells.append(recipients_text(c.recipients))
        w.writerow([_safe(x) for x in cells])
    return "\ufeff" + buf.getvalue()


def _safe(cell: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading ``'`` (read back without it)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _phone(cell) else cell


def _unsafe(cell: str) -> str:
    """The cell as written before :func:`_safe` (an exported file imports unchanged)."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell


def _phone(cell: str) -> bool:
    return cell.startswith("+") and cell[1:].replace(" ", "").replace("-", "").isdigit()
