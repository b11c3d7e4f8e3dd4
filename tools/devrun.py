"""``make run``: the agent on embedded defaults with a private broker and a live view of its events.

Starts a ``mosquitto`` on a free loopback port (config, log and outbox under ``.run/``), writes a
config with the simulated thermometer and camera, runs ``triage-agent run`` as a child process (its
log goes to ``.run/agent.log``), subscribes to ``triage/v1/#`` and prints each event as it arrives,
one line each. Ctrl-C stops the agent cleanly (you will see its ``stopping`` then ``offline`` status), then the broker.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

RUN_DIR = Path(".run")
SCENES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scenes"
"""Real photos for the simulated camera when ../shared is beside the checkout (synthetic otherwise)."""
COLOURS = {"alert": "31", "temperature": "36", "status": "33", "health": "90", "summary": "35"}

CONFIG = """\
# Written by `make run` (tools/devrun.py): embedded defaults, private broker.
[device]
site = "demo-clinic"
desk = "desk-1"
{device}
[mqtt]
host = "127.0.0.1"
port = {port}

[thermometer]
port = "simulated"
{thermometer}
[camera]
source = "simulated"
{scenes}
[outbox]
path = "{run}/outbox.sqlite3"

[reporting]
health_interval_s = 30.0
summary_interval_s = 60.0

[runtime]
state_dir = "{run}/state"
status_socket = "{run}/status.sock"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(run: Path, port: int) -> subprocess.Popen[bytes]:
    """A private mosquitto on ``port``; exits the program with advice when it cannot start."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        sys.exit(
            "mosquitto is not installed: run `make run` (it installs it) or apt-get install mosquitto"
        )
    conf = run / "mosquitto.conf"
    user = pwd.getpwuid(os.geteuid()).pw_name
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser {user}\n"
        f"log_dest file {run.resolve() / 'mosquitto.log'}\n"
    )
    out = (run / "mosquitto.log").open("ab")
    # Own session: Ctrl-C reaches only this runner, which then stops the agent before the broker.
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=out, stderr=out, start_new_session=True
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"mosquitto did not start; see {run / 'mosquitto.log'}")


def describe(kind: str, doc: dict[str, Any]) -> str:
    """The interesting fields of one event, for a human."""
    skip = {"v", "id", "ts", "device", "kind", "seq"}
    fields = " ".join(
        f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in doc.items() if k not in skip
    )
    return f"{doc.get('ts', '?')} #{doc.get('seq', '?'):<5} {kind:<11} {fields}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--duration", type=float, default=0, help="stop after N seconds (0: Ctrl-C)"
    )
    parser.add_argument(
        "--run-dir", type=Path, default=RUN_DIR, help="folder for the config, logs and outbox"
    )
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir

    run_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    broker = start_broker(run_dir, port)
    cfg_path = run_dir / "config.toml"
    scenes = f'simulated_scenes_dir = "{SCENES_DIR}"\n' if SCENES_DIR.is_dir() else ""
    cfg_path.write_text(
        CONFIG.format(port=port, run=run_dir.resolve(), scenes=scenes, device="", thermometer="")
    )
    log = (run_dir / "agent.log").open("ab")
    agent = subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "--config", str(cfg_path)],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    tty = sys.stdout.isatty()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        kind = msg.topic.rsplit("/", 1)[-1]
        line = describe(kind, json.loads(msg.payload)) + f"  ({len(msg.payload)} B)"
        if tty and kind in COLOURS:
            line = f"\033[{COLOURS[kind]}m{line}\033[0m"
        print(line, flush=True)

    sub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="make-run-viewer")
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("triage/v1/#", qos=1)
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    print(
        f"broker 127.0.0.1:{port}  config {cfg_path}  agent log {run_dir / 'agent.log'}\n"
        f"events on triage/v1/# (Ctrl-C to stop):",
        flush=True,
    )
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    deadline = time.monotonic() + args.duration if args.duration > 0 else None
    status = 0
    while not stop:
        if agent.poll() is not None:
            print(f"the agent exited with status {agent.returncode}; see {run_dir / 'agent.log'}")
            status = agent.returncode or 1
            break
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if agent.poll() is None:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=20)
        except subprocess.TimeoutExpired:
            agent.kill()
    time.sleep(0.5)  # let the `stopping` and `offline` statuses arrive
    sub.loop_stop()
    sub.disconnect()
    broker.terminate()
    broker.wait(timeout=10)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
