"""``make central``: the whole chain on one machine, on embedded defaults.

A private ``mosquitto`` (as ``make run``, with the district queue settings of docs/CENTRAL.md and
its database in the run folder), ``triage-agent run`` on the simulated thermometer and
camera, ``triage-central collect`` into SQLite (``.run-central/central.sqlite3``) and
``triage-central serve`` on a free local port, each a child process with its log in the run folder.
The live desk's picture has a staff and a queue zone and the clinic is open all day
(:data:`LIVE_DESK_LAYOUT`), so the four problems come up live within minutes.
Prints the dashboard URL. Ctrl-C (or ``--duration``) stops the agent first (its ``stopping`` status
reaches the collector), then the collector, the dashboard and the broker.

Beside the live desk, a second desk of the demo clinic publishes yesterday's opening day
(:mod:`tools.centraldemo`: a believable arrival rate, two problems of each of the four kinds); once
it is stored, the district's morning runs: the day's notices drafted and issued, delivered to a
local WeCom-format receiver (``receiver.jsonl``), one case reported and verified; the pages to open
are printed. Times are in the district's zone (``--tz``, default Asia/Shanghai); the dashboard
speaks zh_CN (``--language en`` for English).
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from central.store.db import open_db
from central.store.tables import events
from tools import centraldemo
from tools.devrun import CONFIG, SCENES_DIR

RUN_DIR = Path(".run-central")

DISTRICT_BROKER_SETTINGS = """\
# Queues and limits for 2,000 desks: docs/CENTRAL.md, "Broker settings for a district"
max_queued_messages 6000000
max_queued_bytes 2000000000
max_inflight_messages 1000
message_size_limit 4096
persistence true
autosave_interval 300
persistent_client_expiration 7d
"""
"""The mosquitto settings docs/CENTRAL.md gives for a district, word for word (a test keeps the two
equal): the private broker of ``make central`` runs with them."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(run: Path, port: int) -> subprocess.Popen[bytes]:
    """A private mosquitto on 127.0.0.1:``port`` (anonymous, as ``make run``) with
    :data:`DISTRICT_BROKER_SETTINGS`, its database and log in ``run``; exits the program with advice
    when it cannot start."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        sys.exit("mosquitto is not installed: run `make central` (it installs it)")
    conf, log = run / "mosquitto.conf", run.resolve() / "mosquitto.log"
    user = pwd.getpwuid(os.geteuid()).pw_name  # as root, mosquitto would switch to 'mosquitto'
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {user}\nlog_dest file {log}\n"
        f"persistence_location {run.resolve()}/\n{DISTRICT_BROKER_SETTINGS}"
    )
    out = log.open("ab")
    # Own session: Ctrl-C reaches only this runner, which then stops the agent before the broker.
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=out, stderr=out, start_new_session=True
    )
    for _ in range(100):
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"mosquitto did not start; see {log}")


def _child(run: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    log = (run / f"{name}.log").open("ab")
    # Own session: Ctrl-C reaches only this runner, which stops the children in order.
    return subprocess.Popen(
        [sys.executable, "-m", *args], stdout=log, stderr=log, start_new_session=True
    )


def _stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - our http://127.0.0.1
                return bool(resp.status == 200)
        except OSError:
            time.sleep(0.2)
    return False


DESK_PHOTOS = ("13.jpg", "22.jpg", "23.jpg", "5.jpg", "hpc203_person.jpg", "hpc203_zidane.jpg")
"""The photos of ../shared/data/scenes with one to three people (the product's analyser counts them):
a desk, not a crowd."""
DESK_HOLD = 12
"""Copies of each: the simulated camera holds a photo 4 s, so the same people stay about 48 s (about
one or two arrivals a minute instead of a new crowd every 4 s)."""


LIVE_DESK_LAYOUT = """\
[[zones]]
name = "desk"
role = "staff"
polygon = [[0.0, 0.0], [0.35, 0.0], [0.35, 1.0], [0.0, 1.0]]

[[zones]]
name = "queue"
role = "queue"
polygon = [[0.35, 0.0], [1.0, 0.0], [1.0, 1.0], [0.35, 1.0]]
crowd_limit = 1
crowd_after_s = 20.0

[clinic]
{hours}
"""
"""The live desk's picture as a triage point: the left third behind the desk (its people are
staff), the rest the queue (more than one person waiting for 20 s is crowding), open all day.
With :data:`DESK_PHOTOS` it meets the four problems in a few minutes: a person at the desk
without a mask, patients without masks, two waiting at once, and the desk left alone while a
patient waits (``desk_unattended`` after a minute)."""


def live_desk_config(port: int, run: Path, scenes: str, tz: str) -> str:
    """The live desk's agent configuration: ``make run``'s, in the district's time zone, with
    :data:`LIVE_DESK_LAYOUT` and the thermometer emulator's ``clinic`` trace (about one person a
    minute, 2 fevers in 30: firmware_bridge/trace.py)."""
    hours = "\n".join(f'{d} = ["00:00-24:00"]' for d in
                      ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))  # fmt: skip
    base = CONFIG.format(
        port=port,
        run=run.resolve(),
        scenes=scenes,
        device=f'timezone = "{tz}"\n',
        thermometer='simulated_scenario = "clinic"\n',
    )
    body = base.split("\n", 1)[1]  # after make run's "Written by" line
    head = "# Written by `make central` (tools/centralrun.py): the live desk of the demo clinic.\n"
    return head + body + "\n" + LIVE_DESK_LAYOUT.format(hours=hours)


def _desk_scenes(run: Path) -> Path:
    """``run``/desk-scenes: :data:`DESK_PHOTOS`, each :data:`DESK_HOLD` times (links), when
    ../shared is beside the checkout; no ``mask`` folder beside it, so no composed frames."""
    folder = run / "desk-scenes"
    if not SCENES_DIR.is_dir():
        return folder
    folder.mkdir(exist_ok=True)
    for i, name in enumerate(DESK_PHOTOS):
        photo = SCENES_DIR / name
        for k in range(DESK_HOLD):
            link = folder / f"{i:02d}-{k:02d}{photo.suffix}"
            if photo.is_file() and not link.exists():
                link.symlink_to(photo)
    return folder


def _demo_day(run: Path, db: str, port: int, url: str, tz: str, language: str) -> int:
    """Publish desk-2's yesterday, wait until the collector stored it, close the day; prints the
    pages to open. 0, or 1 when a step failed."""
    day = (datetime.now(ZoneInfo(tz)) - timedelta(days=1)).date()
    messages = centraldemo.scripted_day(day, ZoneInfo(tz))
    engine = open_db(db)
    stored, deadline = 0, time.monotonic() + 90
    device = f"{centraldemo.SITE}-{centraldemo.DESK}"
    q = select(func.count()).select_from(events).where(events.c.desk == centraldemo.DESK)
    while stored < len(messages) and time.monotonic() < deadline:
        # Again until all are stored: the collector may not have subscribed yet (the same ids:
        # what it already has is a duplicate, dropped).
        centraldemo.publish(port, messages)
        again = time.monotonic() + 10
        while stored < len(messages) and time.monotonic() < min(again, deadline):
            with engine.connect() as conn:
                stored = int(conn.execute(q).scalar_one())
            time.sleep(0.3)
    engine.dispose()
    print(f"desk-2      {day} replayed: {len(messages)} events, {stored} stored ({device})",
          flush=True)  # fmt: skip
    receiver = centraldemo.Receiver(run / "receiver.jsonl").start()
    try:
        closed = centraldemo.close_day(run, db, tz, language, day, url, receiver)
    finally:
        receiver.stop()
    (run / "close-day.log").write_text(closed.output)
    received = (run / "receiver.jsonl").read_text().count("\n") if (
        run / "receiver.jsonl").exists() else 0  # fmt: skip
    notice = closed.notices[0] if closed.notices else "-"
    print(
        f"notices     {', '.join(closed.notices) or 'none'} issued for {day}; "
        f"{received} message(s) to the WeCom receiver ({run}/receiver.jsonl)\n"
        f"open        {url}?date={day}   (the fleet on {day})\n"
        f"            {url}notice/{notice}\n"
        f"            {url}case/{closed.case_id}   (verified)\n"
        f"            {url}cases   {url}deliveries\n"
        f"steps       {run}/close-day.log",
        flush=True,
    )
    return 0 if closed.notices and received and closed.case_id else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=0, help="stop after N s (0: Ctrl-C)")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="config, logs, databases")
    parser.add_argument("--http-port", type=int, default=0, help="dashboard port (0: a free one)")
    parser.add_argument(
        "--tz",
        default=os.environ.get("TRIAGE_CENTRAL_TZ") or os.environ.get("TZ") or "Asia/Shanghai",
        help="the district's time zone (default: $TRIAGE_CENTRAL_TZ, $TZ, Asia/Shanghai)",
    )
    parser.add_argument("--language", default="zh_CN", help="zh_CN (default) or en")
    args = parser.parse_args(argv)
    run: Path = args.run_dir
    run.mkdir(parents=True, exist_ok=True)
    # Each run starts afresh: the demo day is replayed, its notice issued and delivered again.
    for stale in ("central.sqlite3", "central.sqlite3-wal", "central.sqlite3-shm", "mosquitto.db",
                  "receiver.jsonl"):  # fmt: skip
        (run / stale).unlink(missing_ok=True)
    port = _free_port()
    http_port = args.http_port or _free_port()
    db = str((run / "central.sqlite3").resolve())
    broker = start_broker(run, port)
    cfg = run / "agent.toml"
    desk_scenes = _desk_scenes(run)
    scenes = f'simulated_scenes_dir = "{desk_scenes.resolve()}"\n' if desk_scenes.is_dir() else ""
    cfg.write_text(live_desk_config(port, run, scenes, args.tz))
    common = ["--db", db, "--tz", args.tz, "--language", args.language]
    migrated = subprocess.run(
        [sys.executable, "-m", "central", "migrate", "--db", db],
        capture_output=True,
        text=True,
        check=False,
    )
    if migrated.returncode != 0:
        broker.terminate()
        sys.exit(f"could not create the database {db}:\n{migrated.stdout}{migrated.stderr}")
    collector = _child(
        run, "collector", "central", "collect", *common, "--port", str(port),
        "--client-id", "make-central",
    )  # fmt: skip
    server = _child(run, "dashboard", "central", "serve", *common, "--http-port", str(http_port))
    agent = _child(run, "agent", "agent", "run", "--config", str(cfg))
    children = [agent, collector, server]
    url = f"http://127.0.0.1:{http_port}/"
    status = 0
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    # From here Ctrl-C stops the chain in order (after the demo day's steps when it comes meanwhile).
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if not _wait_http(url + "healthz", children):
        print(f"something did not start; see the logs in {run}/", flush=True)
        status = 1
    else:
        print(
            f"dashboard   {url}\n"
            f"broker      127.0.0.1:{port}   database {db}\n"
            f"logs        {run}/agent.log, collector.log, dashboard.log\n"
            f"report      triage-central report --db {db} --date today\n"
            f"time zone   {args.tz} (make central CENTRAL_TZ=Europe/Berlin, or TZ=...)\n"
            f"language    {args.language} (make central CENTRAL_LANGUAGE=en for English)",
            flush=True,
        )
        status = _demo_day(run, db, port, url, args.tz, args.language)
        print("Ctrl-C to stop.", flush=True)
    stop = stop or status != 0
    deadline = time.monotonic() + args.duration if args.duration > 0 else None
    while not stop:
        dead = [name for name, p in zip(("agent", "collector", "dashboard"), children, strict=True)
                if p.poll() is not None]  # fmt: skip
        if dead:
            print(f"{', '.join(dead)} exited; see {run}/{dead[0]}.log", flush=True)
            status = 1
            break
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(0.2)
    _stop(agent)
    time.sleep(1.0)  # the agent's `stopping` status reaches the collector
    _stop(collector)
    _stop(server)
    broker.terminate()
    broker.wait(timeout=10)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
