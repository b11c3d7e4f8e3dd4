"""The fleet page shows each desk's models as its newest status names them (issue 20 item 4), read
as untrusted input: only short printable strings, at most three; in a real browser."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from selenium.webdriver.common.by import By

from agent.flow.events import AvailabilityEvent, HealthEvent, SourceHealth
from central.store.db import open_db
from central.store.writer import store
from central.web.glance import glance
from tests.central.browser import chromium, served
from tests.central.day_script import Box

TZ = ZoneInfo("Africa/Nairobi")
FACE = "face-detector@2491cf0d"
MASK = "mask-classifier@0335156b"
PERSON = "person-detector@c59b6c94"


def _health(at: float) -> HealthEvent:
    ok = SourceHealth("ok", at - 60, None, 10.0)
    return HealthEvent(
        at=at, uptime_s=60, version="0.1.0", sources={"camera": ok, "vision": ok},
        outbox_depth=0, outbox_oldest_s=None, rejected=0, dropped=0, evicted=0,
    )  # fmt: skip


def test_the_fleet_page_shows_the_models_each_status_names(db_url: str) -> None:
    engine = open_db(db_url)
    now = time.time()
    vision, hostile, thermometer_only = (
        Box("clinic-001", "desk-1"),
        Box("clinic-001", "desk-2"),
        Box("clinic-002", "desk-1"),
    )
    models = {"face": FACE, "mask": MASK, "person": PERSON}
    rows = [
        # a box as the agent encodes it: models on its online status, health as before
        vision.row(AvailabilityEvent(at=now - 120, state="online", health_every_s=60, models=models)),
        vision.row(_health(now - 30)),
        # a box (or anyone holding its credentials) sending what the contract does not allow
        hostile.raw(now - 100, {
            "kind": "status", "state": "online", "health_every_s": 60,
            "models": {"face": "<script>alert(1)</script>", "mask": "x" * 41, "person": 7,
                       "zz-extra": "ok@1", "aa\u202e": "rtl@2", "b": "bidi\u202e@3",
                       "c": "fine@4", "d": "fine@5"},
        }),
        hostile.raw(now - 20, {
            "kind": "health", "uptime_s": 5, "version": "0.1.0", "sources": {},
            "outbox_depth": 0, "rejected": 0, "dropped": 0, "evicted": 0,
            "models": {"face": "from-health@00000000"},  # not where the contract puts them
        }),
        thermometer_only.row(AvailabilityEvent(at=now - 90, state="online", health_every_s=60)),
        thermometer_only.row(_health(now - 10)),
    ]  # fmt: skip
    store(engine, rows)

    page = glance(engine, TZ, now=now)
    by_desk = {(d.site, d.desk): d for d in page.desks}
    assert by_desk[("clinic-001", "desk-1")].models == (
        ("face", FACE), ("mask", MASK), ("person", PERSON),
    )  # fmt: skip
    # only short printable ASCII strings, three at most (sorted), the rest left out
    assert by_desk[("clinic-001", "desk-2")].models == (
        ("c", "fine@4"), ("d", "fine@5"), ("face", "<script>alert(1)</script>"),
    )  # fmt: skip
    assert by_desk[("clinic-002", "desk-1")].models == ()

    with served(engine, TZ) as url, chromium() as browser:
        browser.get(url + "/")

        def version_cell(site: str, desk: str) -> str:
            row = browser.find_element(
                By.CSS_SELECTOR, f'tr.desk[data-site="{site}"][data-desk="{desk}"]'
            )
            return row.find_element(By.CSS_SELECTOR, 'td[data-label="Version"]').text

        assert version_cell("clinic-001", "desk-1") == (
            f"0.1.0 face {FACE}, mask {MASK}, person {PERSON}"
        )
        shown = version_cell("clinic-001", "desk-2")
        assert shown == "0.1.0 c fine@4, d fine@5, face <script>alert(1)</script>"  # as text
        assert not browser.find_elements(By.CSS_SELECTOR, "tr.desk script")
        assert version_cell("clinic-002", "desk-1") == "0.1.0"
        assert not browser.find_elements(
            By.CSS_SELECTOR, 'tr.desk[data-site="clinic-002"] span.models'
        )
