"""The dashboard in a real browser, on events collected from a real agent run (``triage-agent run``
with its simulated thermometer and camera, a real mosquitto, the collector into SQLite)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine, func, select

from central.collect import Collector
from central.config import BrokerSettings
from central.store.db import open_db
from central.store.tables import events
from tests.broker import Broker
from tests.central.browser import chromium, served, shows
from tests.central.wire import Publisher, encoded, identity, occupancy, status
from tests.conftest import AgentProcess, base_config, write_config

pytestmark = [pytest.mark.broker, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _midday_zone() -> ZoneInfo:
    """A fixed-offset zone where it is about noon now: the pages show "today" in it, and the
    run's events (the last 15 minutes) never straddle its midnight (a CI run at 00:03 UTC put
    the first of five occupancy reports on the day before)."""
    offset = 12 - time.gmtime().tm_hour  # -11 .. +12 hours east of UTC
    return ZoneInfo(f"Etc/GMT{-offset:+d}")  # POSIX sign: Etc/GMT-12 is 12 hours east


TZ = _midday_zone()


def _kinds(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.kind, func.count()).group_by(events.c.kind)).all()
    return {k: int(n) for k, n in rows}


def _results(engine: Engine) -> dict[str, int]:
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for (payload,) in conn.execute(
            select(events.c.payload).where(events.c.kind == "temperature")
        ):
            r = json.loads(payload)["result"]
            out[r] = out.get(r, 0) + 1
    return out


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, AgentProcess]]:
    """A real agent publishing into a real broker, collected into SQLite; the agent keeps running."""
    tmp = tmp_path_factory.mktemp("dashboard")
    broker = Broker(tmp).start()
    collector: Collector | None = None
    agent: AgentProcess | None = None
    try:
        engine = open_db(str(tmp / "central.sqlite3"))
        collector = Collector(BrokerSettings(port=broker.port, client_id="dash-test"), engine)
        collector.start()
        assert collector.subscribed.wait(10)
        cfg = base_config(
            tmp,
            broker.port,
            device={"site": "clinic-042", "desk": "desk-1"},
            thermometer={"enabled": True, "port": "simulated"},
            camera={"enabled": True, "source": "simulated"},
            # Low limits so a short run raises alerts: every screening is a fever, crowding at 2.
            screening={"fever_threshold_c": 35.0},
            vision={"crowd_limit": 1, "crowd_after_s": 1.0, "unmasked_alert_after_s": 1.0},
        )
        agent = AgentProcess(write_config(tmp / "agent.toml", cfg))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            k = _kinds(engine)
            if all(k.get(kind, 0) >= 2 for kind in ("alert", "summary", "temperature")):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(
                f"the agent produced too little: {_kinds(engine)}\n{agent.output()[-3000:]}"
            )
        # A second desk of the clinic, from the agent's own encoder: an occupancy curve over the
        # morning (the simulated camera's synthetic frames hold no detectable people).
        now = time.time()
        box = identity("clinic-042", "desk-2")
        curve = [
            occupancy(now - 600 + 60 * i, c, c, people=c) for i, c in enumerate([1, 3, 6, 4, 2])
        ]
        pub = Publisher(broker.port)
        pub.send(encoded([status(now - 700, "online"), *curve], box))
        pub.close()
        deadline = time.monotonic() + 20
        while _kinds(engine).get("occupancy", 0) < len(curve) and time.monotonic() < deadline:
            time.sleep(0.1)
        yield engine, agent
    finally:
        if agent is not None:
            agent.stop()
        if collector is not None:
            collector.stop()
        broker.stop()


def test_fleet_clinic_and_day_pages_show_what_the_agent_published(
    collected: tuple[Engine, AgentProcess], tmp_path: Path
) -> None:
    engine, _agent = collected
    with served(engine, TZ) as url, chromium() as browser:
        browser.get(url + "/")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Fleet at a glance"
        # Desks are grouped worst first (an offline desk-2 comes before desk-1): find desk-1.
        row = browser.find_element(
            By.CSS_SELECTOR, 'tr.desk[data-site="clinic-042"][data-desk="desk-1"]'
        )
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        assert cells[:3] == ["clinic-042", "desk-1", "online"]
        # Today's counts on the page are the stored events' counts (every screening is a fever).
        results = _results(engine)
        valid = results.get("normal", 0) + results.get("fever", 0)
        shown_screened, shown_fevers = int(cells[4]), int(cells[5])
        assert (
            valid <= shown_screened <= _results(engine).get("fever", 0) + results.get("normal", 0)
        )
        assert shown_fevers >= results.get("fever", 0) >= 1
        open_rows = browser.find_elements(By.CSS_SELECTOR, "#open-problems tr.open")
        kinds = _kinds(engine)
        assert kinds["alert"] >= 2
        assert all("clinic-042" in r.text for r in open_rows)
        # The clinic page: a server-drawn timeline and the day's problems.
        browser.find_element(By.LINK_TEXT, "clinic-042").click()
        WebDriverWait(browser, 15).until(shows(By.TAG_NAME, "h1", "clinic-042"))
        chart = browser.find_element(By.CSS_SELECTOR, "#desk-desk-1 svg.timeline")
        curve = browser.find_element(
            By.CSS_SELECTOR, "#desk-desk-2 svg.timeline polyline.occupancy"
        )
        points = (curve.get_attribute("points") or "").split()
        assert len(points) == 2 * 5  # a step line: two points per report, then held to now
        peak = browser.find_element(By.CSS_SELECTOR, "#desk-desk-2").text
        assert "peak occupancy 6" in peak
        bars = chart.find_elements(By.CSS_SELECTOR, "rect.problem")
        table_rows = browser.find_elements(By.CSS_SELECTOR, "#desk-desk-1 table.problems tr")[1:]
        assert len(bars) == len(table_rows) >= 1
        assert any("Fever" in r.text for r in table_rows)
        check = browser.find_element(By.CSS_SELECTOR, "#desk-desk-1 p.check").text
        assert check.startswith("Check: ")
        assert "summaries covering" in check
        browser.save_screenshot(str(tmp_path / "clinic.png"))
        shots = os.environ.get("TRIAGE_SCREENSHOTS")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(Path(shots) / "clinic.png"))
            browser.get(url + "/")
            browser.save_screenshot(str(Path(shots) / "fleet.png"))
        assert (tmp_path / "clinic.png").stat().st_size > 10_000
        # The daily notification and its CSV.
        browser.get(url + "/day")
        assert "Daily notification" in browser.find_element(By.TAG_NAME, "h1").text
        assert "clinic-042" in browser.find_element(By.TAG_NAME, "main").text
        link = browser.find_element(By.LINK_TEXT, "Download CSV").get_attribute("href")
        assert link is not None
        with urllib.request.urlopen(link) as resp:
            rows = list(csv.DictReader(io.StringIO(resp.read().decode("utf-8-sig"))))
        counts = [r for r in rows if r["record"] == "counts"]
        assert [(r["site"], r["desk"]) for r in counts] == [
            ("clinic-042", "desk-1"),
            ("clinic-042", "desk-2"),
        ]
        assert int(counts[0]["fevers"]) >= 1
        assert counts[1]["peak_occupancy"] == "6"
        assert counts[1]["arrivals"] == "16"
        # A fever is a screening result (issue 21 item 2): its own record, never a problem.
        assert any(r["record"] == "fever" and r["what"] == "Fever" for r in rows)
        assert not any(r["record"] == "problem" and r["what"] == "Fever" for r in rows)
        browser.get(url + "/week")
        assert "Weekly counts" in browser.find_element(By.TAG_NAME, "h1").text
        assert "clinic-042" in browser.find_element(By.TAG_NAME, "main").text


def test_the_deprecated_token_is_an_admin_api_token(collected: tuple[Engine, AgentProcess]) -> None:
    """--token (deprecated, docs/CENTRAL.md "Who sees what"): browsers sign in with accounts;
    the shared token only works as an administrator's API token for scripts."""
    engine, _agent = collected
    token = "s3cret-district-token-of-32-chars-or-more"
    with served(engine, TZ, token=token) as url, chromium() as browser:
        browser.get(url + "/week")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
        assert browser.find_element(By.NAME, "username")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + "/day.csv")
        assert err.value.code == 401
        req = urllib.request.Request(url + "/day.csv", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req) as resp:
            assert (
                resp.read().decode().startswith("\ufeffdate,site,name,desk,record")
            )  # name: the registry


def test_serve_refuses_other_addresses_without_a_token(tmp_path: Path) -> None:
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run
    out = run(
        [sys.executable, "-m", "central", "serve", "--db", str(tmp_path / "c.sqlite3"), "--bind", "0.0.0.0"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "TRIAGE_CENTRAL_TOKEN"},
    )  # fmt: skip
    assert out.returncode == 78
    assert "bind: 0.0.0.0 is reachable from other machines" in out.stderr
