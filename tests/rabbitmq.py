"""A private RabbitMQ node with the MQTT plugin (3.1.1 only in 3.10), on free ports, for tests.

The machine may already run RabbitMQ (5672) and its epmd (4369): this node has its own name,
AMQP, distribution and MQTT ports, and its own data, log, config and plugins files in a temporary
folder; it registers with the running epmd (or starts one) like any second node would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.broker import free_port

RABBITMQ_SERVER = next(
    (
        p
        for p in (
            # The real script: the /usr/sbin wrapper switches to the rabbitmq user, which cannot
            # write the test's private folder.
            "/usr/lib/rabbitmq/bin/rabbitmq-server",
            shutil.which("rabbitmq-server") or "",
        )
        if p and Path(p).exists()
    ),
    "/usr/lib/rabbitmq/bin/rabbitmq-server",
)


@dataclass
class RabbitNode:
    workdir: Path
    mqtt_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> RabbitNode:
        self.mqtt_port = free_port()
        amqp, dist = free_port(), free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "mnesia").mkdir(exist_ok=True)
        (self.workdir / "log").mkdir(exist_ok=True)
        (self.workdir / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        (self.workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{amqp}\n"
            f"mqtt.listeners.tcp.default = 127.0.0.1:{self.mqtt_port}\n"
            "mqtt.allow_anonymous = true\n"
            "loopback_users = none\n"
        )
        env = {
            **os.environ,
            "HOME": str(self.workdir),  # its own Erlang cookie
            "RABBITMQ_NODENAME": f"triage-test-{self.mqtt_port}@localhost",
            "RABBITMQ_NODE_PORT": str(amqp),
            "RABBITMQ_DIST_PORT": str(dist),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(self.workdir / "pid"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(self.workdir / "feature_flags"),
        }
        log = (self.workdir / "server.out").open("wb")
        self.proc = subprocess.Popen(
            [RABBITMQ_SERVER],
            env=env,
            cwd=self.workdir,  # where a crash dump would land
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited: {self.output()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"RabbitMQ MQTT listener not up in {timeout} s: {self.output()[-2000:]}")

    def output(self) -> str:
        p = self.workdir / "server.out"
        return p.read_text(errors="replace") if p.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
