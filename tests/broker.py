"""A private, real Mosquitto broker for tests, and a subscriber that collects what arrives.

Each :class:`Broker` runs its own ``mosquitto`` process on a free loopback port with a config written
to a temporary folder (plain, TLS, password file, ACL), so tests are isolated from the machine's own
broker and from each other. :class:`Collector` is a paho subscriber that records messages.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A running mosquitto; ``extra`` lines are appended to the listener config."""

    workdir: Path
    port: int = field(default_factory=free_port)
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        conf = self.workdir / f"mosquitto-{self.port}.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            # Stay the current user (as root, mosquitto would switch to 'mosquitto' and lose
            # access to the test's private temporary folder).
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            f"log_dest file {self.workdir / f'mosquitto-{self.port}.log'}",
            "log_type all",
        ]
        if not any(line.startswith(("allow_anonymous", "password_file")) for line in self.extra):
            lines.append("allow_anonymous true")
        conf.write_text("\n".join(lines + self.extra) + "\n")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited: {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def log(self) -> str:
        p = self.workdir / f"mosquitto-{self.port}.log"
        return p.read_text() if p.exists() else ""


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.payload)
        return doc


class Collector:
    """Subscribes to ``topic`` on a broker and records every message."""

    def __init__(
        self,
        port: int,
        topic: str = "#",
        host: str = "127.0.0.1",
        protocol: MQTTProtocolVersion = mqtt.MQTTv5,
        auth: tuple[str, str] | None = None,
        session: str | None = None,
    ) -> None:
        """``session``: a fixed client id with a persistent session (MQTT 5, 1 h expiry), so QoS 1
        messages published while this subscriber is away are queued for it by the broker."""
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=session or f"collector-{free_port()}",
            protocol=protocol,
        )
        connect_kw: dict[str, Any] = {}
        if session is not None:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 3600
            connect_kw = {"clean_start": False, "properties": props}
            self.client.reconnect_delay_set(1, 1)  # back soon after a broker restart
        self.client.on_connect = lambda c, u, f, rc, p: (
            c.subscribe(topic, qos=1) if not rc.is_failure else None
        )
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.client.on_message = self._on_message
        if auth is not None:
            self.client.username_pw_set(*auth)
        self.client.connect(host, port, **connect_kw)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("collector could not subscribe")

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> list[Received]:
        """Wait until ``predicate(messages)`` is true; return the messages (raises on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [m.topic for m in self.messages]
                    raise AssertionError(f"timed out; received {len(kinds)}: {kinds[-20:]}")
                self._cond.wait(left)
            return list(self.messages)

    def settle(self, quiet_s: float = 2.0, timeout: float = 30.0) -> list[Received]:
        """Wait until nothing new arrived for ``quiet_s`` (a backlog has drained); return all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = -1
            while len(self.messages) != seen and time.monotonic() < deadline:
                seen = len(self.messages)
                self._cond.wait(quiet_s)
            return list(self.messages)

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        with self._cond:
            return [m.json() for m in self.messages if m.topic.endswith("/" + kind)]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
