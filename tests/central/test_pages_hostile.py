"""No stored value can break a page, a CSV or a report for everybody.

The rows here are written straight into the table, as a collector from before the input checks (or
a hand-made import) would have: an alert value of NaN, an occupancy count of 1e999 or of 400 digits,
a ts of 9999-12-31, alert names that are spreadsheet formulas or terminal escape sequences, a site
``..``. Every page answers 200, the good rows are still shown, the CSV cells cannot run, the
terminal report has no control characters; dates out of range in URLs answer 400."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from central.cli import main
from central.report.days import today
from central.store.db import open_db
from central.store.rollups import reconcile
from central.store.tables import events
from tests.central.browser import served
from tests.central.hostile import iso

TZ = ZoneInfo("UTC")
FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(A1)", "-2+3", "@SUM(A1:A2)", '=HYPERLINK("http://x")']


def _row(site: str, kind: str, ts: float, payload: str, **cols: object) -> dict[str, object]:
    return {
        "event_id": uuid.uuid4().hex, "site": site, "desk": "desk-1", "kind": kind,
        "device": None, "seq": None, "ts": ts, "received": ts, "alert": None, "state": None,
        "alert_id": None, "payload": payload, **cols,
    }  # fmt: skip


def legacy_rows(now: float) -> list[dict[str, object]]:
    t = iso(now - 600)
    head = f'"v": 1, "ts": "{t}"'
    out = [
        # A good clinic whose figures must still show.
        _row("clinic-good", "temperature", now - 600, f'{{{head}, "result": "fever"}}'),
        _row("clinic-good", "status", now - 600, f'{{{head}, "state": "online"}}', state="online"),
        # Values no page can compute with.
        _row("clinic-bad", "alert", now - 500, f'{{{head}, "alert": "crowding", "value": NaN}}',
             alert="crowding", state="raised", alert_id="a1"),
        _row("clinic-bad", "occupancy", now - 400, f'{{{head}, "count": 1e999, "max": 1e999, '
             '"window_s": 60, "people": 1e999}'),
        _row("clinic-bad", "occupancy", now - 300, f'{{{head}, "count": 1{"0" * 400}, '
             f'"window_s": 60, "people": 1{"0" * 400}}}'),
        _row("clinic-bad", "summary", now - 200, f'{{{head}, "window_s": Infinity, '
             '"screened": -Infinity, "alerts": {"x": NaN}}'),
        _row("clinic-bad", "health", 253402214400.0, '{"outbox_depth": 1e999}'),
        _row("clinic-bad", "status", 253402214400.0, '{"state": "online"}', state="online"),
        _row("clinic-bad", "temperature", now - 100, "not json at all"),
        _row("clinic-bad", "alert", now - 90, '[1, 2]', alert="fever", state="raised",
             alert_id="a2"),
        # Names that are formulas or escape sequences, and path words as sites.
        _row("clinic-bad", "alert", now - 80, f'{{{head}, "message": "\\u001b[2J"}}',
             alert="\x1b[31mred\x1b[0m", state="raised", alert_id="a3"),
        _row("..", "temperature", now - 70, f'{{{head}, "result": "normal"}}'),
        _row(".", "temperature", now - 70, f'{{{head}, "result": "normal"}}'),
    ]  # fmt: skip
    for i, name in enumerate(FORMULAS):
        out.append(
            _row("clinic-bad", "alert", now - 60 + i, f'{{{head}}}', alert=name, state="raised",
                 alert_id=f"f{i}")
        )  # fmt: skip
    return out


def fill(engine: Engine, now: float) -> None:
    """Rows stored before the collector checked them, and their rollups rebuilt (as the upgrade to
    0003 and ``triage-central reconcile`` do): the pages read the rollups."""
    with engine.begin() as conn:
        conn.execute(events.insert(), legacy_rows(now))
    reconcile(engine, [today(TZ, now - 86400), today(TZ, now)], TZ.key)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def test_every_page_renders_with_bad_rows_stored(db_url: str) -> None:
    engine = open_db(db_url)
    fill(engine, time.time())
    day = today(TZ).isoformat()
    with served(engine, TZ) as base:
        for path in ("/", "/day", "/day.csv", "/week", "/week.csv", "/clinic/clinic-bad",
                     "/clinic/clinic-good", f"/day?date={day}"):  # fmt: skip
            status, body = get(base + path)
            assert status == 200, (path, body[:300])
        status, fleet_page = get(base + "/")
        assert "clinic-good" in fleet_page
        for path in ("/day?date=9999-12-31", "/week?week=9999-W52", "/day?date=0001-01-01",
                     "/week?week=1969-W01", "/day?date=2026-13-40"):  # fmt: skip
            status, body = get(base + path)
            assert status == 400, (path, status)
            assert "Traceback" not in body
        assert get(base + "/clinic/..")[0] == 404
        assert get(base + "/clinic/%2E%2E")[0] == 404
        _, day_csv_text = get(base + "/day.csv")
    assert day_csv_text.startswith("\ufeff")
    cells = [c for row in csv.reader(io.StringIO(day_csv_text[1:])) for c in row]
    for name in FORMULAS:
        assert not any(c.startswith(name) for c in cells), name
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)
    assert not any(c.startswith("-") and not c[1:].replace(".", "").isdigit() for c in cells)


@pytest.mark.parametrize("fmt", ["table", "csv", "html"])
def test_the_report_command_renders_with_bad_rows_stored(
    db_url: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = open_db(db_url)
    fill(engine, time.time())
    out = tmp_path / f"day.{fmt}"
    assert main(["report", "--db", db_url, "--tz", "UTC", "--date", "today", "--format", fmt,
                 "--output", str(out)]) == 0  # fmt: skip
    text = out.read_text(encoding="utf-8")
    assert "clinic-good" in text
    if fmt == "table":
        assert not any(ord(c) < 32 and c not in "\n\t" for c in text)
        assert "\x9b" not in text
    assert main(["report", "--db", db_url, "--tz", "UTC", "--week", "this", "--format", fmt]) == 0
    week = capsys.readouterr().out
    assert "clinic-good" in week
    assert main(["report", "--db", db_url, "--tz", "UTC", "--date", "9999-12-31"]) == 78
    assert "outside 2020..2099" in capsys.readouterr().err


def test_refused_sites_and_numbers_read_as_absent() -> None:
    from central.store.reader import plausible

    assert plausible(float("nan")) is None
    assert plausible(float("inf")) is None
    assert plausible(10**400) is None
    assert plausible(True) is None
    assert plausible(-3) == -3.0
    assert json.loads("1e999") == float("inf")  # why the reader cannot trust json.loads
