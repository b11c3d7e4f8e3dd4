"""Secrets stay secret, and the agent listens on no network port.

The real ``triage-agent run`` holds a broker password (from the file, then from
``TRIAGE_MQTT_PASSWORD``) and a camera URL with credentials; every output a person or a subscriber
can see is grepped for them: the process's log, ``status`` (text and ``--json``), ``diag`` (text
and ``--json``), every published payload, and config error messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config import ConfigError, parse_config
from tests.broker import Broker, Collector
from tests.conftest import REPO, AgentProcess, base_config, write_config
from tests.reliability import wait_status

PASSWORD = "Pw-sekr1t-XYZ"
CAM_USER, CAM_PASS = "camuser", "Cam-s3cret-QQ"
CAMERA = f"rtsp://{CAM_USER}:{CAM_PASS}@127.0.0.1:9/stream"
SECRETS = (PASSWORD, CAM_PASS, f"{CAM_USER}:{CAM_PASS}")


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    return done.stdout + done.stderr


def assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} leaks {secret!r}"


def listening_sockets(pid: int) -> list[str]:
    """Network sockets of ``pid`` that listen (TCP) or are bound (UDP), from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            listening = state == "0A" if table.startswith("tcp") else True
            if inode in inodes and listening:
                found.append(f"{table} {local}")
    return found


@pytest.mark.broker
@pytest.mark.slow
@pytest.mark.parametrize("password_from", ["file", "env"])
def test_secrets_never_leave_and_no_port_is_open(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    agent_process: Callable[..., AgentProcess],
    password_from: str,
) -> None:
    pw = tmp_path / "passwd"
    pw.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "agent", PASSWORD], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "spy", "spy-pass"], check=True)
    broker = broker_factory(extra=[f"password_file {pw}"])
    sub = Collector(broker.port, "#", auth=("spy", "spy-pass"))
    mqtt = {"username": "agent"} | ({"password": PASSWORD} if password_from == "file" else {})
    cfg = base_config(tmp_path, broker.port, mqtt=mqtt, camera={"enabled": True, "source": CAMERA})
    conf = write_config(tmp_path / "agent.toml", cfg)
    conf.chmod(0o644)
    env = {"TRIAGE_MQTT_PASSWORD": PASSWORD} if password_from == "env" else {}
    agent = agent_process(conf, env)
    sock = Path(cfg["runtime"]["status_socket"])
    snap = wait_status(sock, lambda s: s["broker"]["connected"], timeout=30)
    sub.wait_for(lambda ms: any(m.topic.endswith("/health") for m in ms), timeout=30)
    time.sleep(3)  # camera reconnect errors (with the URL) get logged meanwhile

    assert listening_sockets(agent.proc.pid) == []
    outputs = {
        "status snapshot": json.dumps(snap),
        "status": cli("status", "--config", str(conf), env=env),
        "status --json": cli("status", "--json", "--config", str(conf), env=env),
        "diag": cli("diag", "--config", str(conf), env=env),
        "diag --json": cli("diag", "--json", "--config", str(conf), env=env),
        "payloads": "\n".join(m.payload.decode() for m in sub.messages),
    }
    assert agent.stop() == 0
    outputs["agent log"] = agent.output()
    for where, text in outputs.items():
        assert_clean(where, text)
    assert "127.0.0.1:9/stream" in outputs["agent log"], "the camera URL is logged, masked"
    # the camera URL's credentials are a secret too, whatever holds the password
    assert "readable by every user" in outputs["agent log"]
    sub.close()


def test_config_errors_never_echo_secrets() -> None:
    bad_everything = {
        "mqtt": {"password": PASSWORD, "port": "x", "host": "mqtt://u:" + PASSWORD + "@h"},
        "camera": {"source": CAMERA, "max_fps": -1},
    }
    with pytest.raises(ConfigError) as err:
        parse_config(bad_everything, "c.toml", environ={})
    assert_clean("config error", str(err.value))
    with pytest.raises(ConfigError) as err:
        parse_config({"mqtt": {"port": 0}}, "c.toml", environ={"TRIAGE_MQTT_PASSWORD": PASSWORD})
    assert_clean("config error (env password)", str(err.value))


def test_private_config_gives_no_warning(tmp_path: Path) -> None:
    conf = write_config(
        tmp_path / "c.toml",
        {
            "mqtt": {"username": "u", "password": PASSWORD},
            # a file names its devices: here the simulated ones, explicitly
            "thermometer": {"port": "simulated"},
            "camera": {"source": "simulated"},
        },
    )
    conf.chmod(0o640)
    assert "readable by every user" not in cli("config", "check", str(conf))
    conf.chmod(0o644)
    out = cli("config", "check", str(conf))
    assert "readable by every user" in out
    assert_clean("config check", out)
