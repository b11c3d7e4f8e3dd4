"""The MQTT publisher against a real mosquitto: order, acknowledgement, outages, Will, TLS, auth."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.flow.events import MaskEvent
from agent.flow.liveness import STUCK_AFTER_S, stuck_loops
from agent.wire.config import MqttConfig
from agent.wire.contract import Identity, WireMessage, encode
from agent.wire.outbox import Outbox
from agent.wire.publisher import Publisher
from tests.broker import Broker, Collector, free_port
from tests.conftest import validate_message
from tests.pki import make_pki, self_signed_ca

pytestmark = pytest.mark.broker

ID = Identity("triage/v1", "site-a", "desk-1", "site-a-desk-1")


def fill(outbox: Outbox, n: int) -> list[int]:
    def encoder(i: int) -> Callable[[int], WireMessage]:
        event = MaskEvent(at=time.time(), state="masked", faces=i, masked=i, unmasked=0)
        return lambda seq: encode(event, ID, seq)

    return [outbox.append(encoder(i)) for i in range(n)]


def mqtt_cfg(port: int, **kw: object) -> MqttConfig:
    return MqttConfig.model_validate(
        {"port": port, "reconnect_min_s": 1, "reconnect_max_s": 1, **kw}
    )


def wait_until(cond: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def mask_seqs(c: Collector) -> list[int]:
    return [m["seq"] for m in c.kinds("mask")]


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_publishes_in_order_and_deletes_after_ack(
    tmp_path: Path, mosquitto: Broker, collector_factory: Callable[..., Collector], protocol: str
) -> None:
    c = collector_factory(mosquitto.port)
    box = Outbox(tmp_path / "o.sqlite3")
    seqs = fill(box, 60)
    pub = Publisher(mqtt_cfg(mosquitto.port, protocol=protocol), ID, box)
    pub.start()
    c.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/mask")]) >= 60)
    assert mask_seqs(c) == seqs
    wait_until(lambda: box.depth() == 0)
    for m in c.messages:
        validate_message(m)
    online = c.kinds("status")
    assert online[0]["state"] == "online"
    assert pub.state().connected
    pub.stop()


def test_outage_is_buffered_on_disk_and_replayed_in_order(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    collector_factory: Callable[..., Collector],
) -> None:
    broker = broker_factory()
    box = Outbox(tmp_path / "o.sqlite3")
    pub = Publisher(mqtt_cfg(broker.port), ID, box)
    pub.start()
    wait_until(lambda: pub.state().connected)
    broker.stop()
    wait_until(lambda: not pub.state().connected)
    seqs = fill(box, 25)
    time.sleep(0.5)
    assert box.depth() == 25  # nothing lost while the broker is away
    restarted = broker_factory(port=broker.port)
    c = collector_factory(restarted.port)
    c.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/mask")]) >= 25, timeout=30)
    got = mask_seqs(c)
    assert sorted(set(got)) == seqs  # all of them (a re-send may duplicate: at-least-once)
    assert [s for i, s in enumerate(got) if s not in got[:i]] == seqs  # first arrivals in order
    wait_until(lambda: box.depth() == 0)
    pub.stop()


def test_clean_stop_publishes_stopping_then_retained_offline_stopped(
    tmp_path: Path, mosquitto: Broker, collector_factory: Callable[..., Collector]
) -> None:
    live = collector_factory(mosquitto.port, "triage/v1/+/+/status")
    box = Outbox(tmp_path / "o.sqlite3")
    pub = Publisher(mqtt_cfg(mosquitto.port), ID, box, health_every_s=30)
    pub.start()
    wait_until(lambda: pub.state().connected)
    fill(box, 3)
    pub.stop()
    assert box.depth() == 0  # flushed before stopping
    states = [validate_message(m)["state"] for m in live.wait_for(lambda ms: len(ms) >= 3)]
    assert states == ["online", "stopping", "offline"]
    online = live.kinds("status")[0]
    assert online["health_every_s"] == 30
    c = collector_factory(mosquitto.port, "triage/v1/+/+/status")
    msgs = c.wait_for(lambda ms: len(ms) >= 1)
    time.sleep(0.5)
    assert len(c.messages) == 1, "exactly one retained status"
    assert msgs[0].retain
    doc = validate_message(msgs[0])
    assert (doc["state"], doc["reason"]) == ("offline", "stopped")


def test_killed_process_leaves_retained_offline_will(
    tmp_path: Path, mosquitto: Broker, collector_factory: Callable[..., Collector]
) -> None:
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from agent.wire.config import MqttConfig
        from agent.wire.contract import Identity
        from agent.wire.outbox import Outbox
        from agent.wire.publisher import Publisher
        pub = Publisher(MqttConfig(port={mosquitto.port}), Identity("triage/v1", "s", "d", "s-d"),
                        Outbox(Path({str(tmp_path / "o.sqlite3")!r})))
        pub.start()
        while not pub.state().connected:
            time.sleep(0.05)
        print("up", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "up"
    proc.kill()
    proc.wait()
    c = collector_factory(mosquitto.port, "triage/v1/s/d/status")
    msgs = c.wait_for(lambda ms: any(json.loads(m.payload)["state"] == "offline" for m in ms))
    offline = [m for m in msgs if json.loads(m.payload)["state"] == "offline"][-1]
    doc = validate_message(offline)
    assert doc["device"] == "s-d"
    assert doc["reason"] == "lost"


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A throwaway CA, a broker certificate for 127.0.0.1/localhost, and a client certificate."""
    return make_pki(tmp_path / "pki")


def test_mutual_tls_with_verification(
    tmp_path: Path,
    pki: dict[str, Path],
    broker_factory: Callable[..., Broker],
    collector_factory: Callable[..., Collector],
) -> None:
    tls_port = free_port()
    broker = broker_factory(  # a plain listener for the test's subscriber, a TLS one for the agent
        extra=[
            f"listener {tls_port} 127.0.0.1",
            f"cafile {pki['ca.pem']}",
            f"certfile {pki['srv.pem']}",
            f"keyfile {pki['srv.key']}",
            "require_certificate true",
        ]
    )
    c = collector_factory(broker.port)
    box = Outbox(tmp_path / "o.sqlite3")
    seqs = fill(box, 5)
    tls_cfg = {
        "enabled": True,
        "ca_file": str(pki["ca.pem"]),
        "cert_file": str(pki["cli.pem"]),
        "key_file": str(pki["cli.key"]),
    }
    pub = Publisher(mqtt_cfg(tls_port, host="localhost", tls=tls_cfg), ID, box)
    pub.start()
    c.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/mask")]) >= 5)
    assert mask_seqs(c) == seqs
    pub.stop()

    # A broker certificate from an unknown CA is refused while verification is on.
    other = tmp_path / "other-ca.pem"
    self_signed_ca("evil", tmp_path / "o.key", other)
    box2 = Outbox(tmp_path / "o2.sqlite3")
    fill(box2, 1)
    bad = Publisher(
        mqtt_cfg(tls_port, host="localhost", tls={**tls_cfg, "ca_file": str(other)}), ID, box2
    )
    bad.start()
    time.sleep(3)
    assert not bad.state().connected
    last_error = bad.state().last_error or ""
    assert last_error.startswith("TLS: broker certificate rejected"), last_error
    assert box2.depth() == 1
    bad.stop(flush_timeout_s=0)


def test_password_and_acl(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    collector_factory: Callable[..., Collector],
) -> None:
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "agent", "s3cret"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "reader", "r3ad"], check=True)
    acl = tmp_path / "acl"
    acl.write_text(
        "user agent\ntopic write triage/v1/site-a/desk-1/#\n\nuser reader\ntopic read #\n"
    )
    broker = broker_factory(
        extra=["allow_anonymous false", f"password_file {pw}", f"acl_file {acl}"]
    )

    box = Outbox(tmp_path / "o.sqlite3")
    wrong = Publisher(mqtt_cfg(broker.port, username="agent", password="nope"), ID, box)
    wrong.start()
    wait_until(lambda: wrong.state().last_error is not None)
    assert "refused" in (wrong.state().last_error or "")
    assert not wrong.state().connected
    wrong.stop(flush_timeout_s=0)

    seqs = fill(box, 3)
    # A message on a topic the ACL denies is refused by the broker and counted, not retried forever.
    box.append(
        lambda seq: encode(
            MaskEvent(at=time.time(), state="masked", faces=1, masked=1, unmasked=0),
            Identity("triage/v1", "x", "y", "x-y"),
            seq,
        )
    )
    reader = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    got: list[int] = []
    reader.username_pw_set("reader", "r3ad")
    reader.on_connect = lambda cl, u, f, rc, p: cl.subscribe("triage/v1/#", qos=1)
    reader.on_message = lambda cl, u, m: (
        got.append(json.loads(m.payload)["seq"]) if m.topic.endswith("/mask") else None
    )
    reader.connect("127.0.0.1", broker.port)
    reader.loop_start()
    time.sleep(0.5)
    pub = Publisher(mqtt_cfg(broker.port, username="agent", password="s3cret"), ID, box)
    pub.start()
    wait_until(lambda: box.depth() == 0)
    wait_until(lambda: len(got) >= 3)
    assert got == seqs
    assert pub.state().rejected == 1
    pub.stop()
    reader.loop_stop()
    reader.disconnect()


# -- the network loop (thread mqtt-network) is a watched loop -------------------------------------
def test_a_callback_that_never_returns_stops_the_network_loop_stamp(
    tmp_path: Path, mosquitto: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The positive control at unit level: the network thread hangs in a callback it runs (here
    the CONNACK's); its stamp stops while the drain's goes on, so the watchdog would stop."""
    hung, release = threading.Event(), threading.Event()

    def hang(self: Publisher, *args: Any) -> None:
        hung.set()
        release.wait(60)

    monkeypatch.setattr(Publisher, "_on_connect", hang)
    pub = Publisher(mqtt_cfg(mosquitto.port), ID, Outbox(tmp_path / "o.sqlite3"))
    pub.start()
    try:
        assert [s.name for s in pub.loops()] == ["mqtt-drain", "mqtt-network"]
        assert hung.wait(10)
        time.sleep(2.0)
        assert pub.network.age() >= 2.0
        assert pub.loop.age() < 1.0
        later = time.monotonic() + STUCK_AFTER_S - 1.5  # the drain turns every 0.2 s at most
        assert stuck_loops(pub.loops(), later) == [pub.network]
    finally:
        release.set()
        pub.stop(flush_timeout_s=0)


def test_an_error_in_the_network_loop_is_counted_and_the_loop_goes_on(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception out of a paho callback (paho re-raises it from ``loop``) must not end the
    network thread (paho's own ``loop_start`` thread dies of it): logged, the link started afresh."""
    calls: list[int] = []
    on_connect = Publisher._on_connect

    def first_fails(self: Publisher, *args: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("injected")
        on_connect(self, *args)

    monkeypatch.setattr(Publisher, "_on_connect", first_fails)
    c = collector_factory(mosquitto.port)
    box = Outbox(tmp_path / "o.sqlite3")
    seqs = fill(box, 3)
    pub = Publisher(mqtt_cfg(mosquitto.port), ID, box)
    pub.start()
    try:
        c.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/mask")]) >= 3)
        assert mask_seqs(c) == seqs
        assert len(calls) == 2
        assert pub.state().connected
        assert "publisher network loop failed (#1, continuing): injected" in caplog.text
        assert stuck_loops(pub.loops()) == []
    finally:
        pub.stop()


def test_a_silent_tls_broker_keeps_the_network_loop_turning(tmp_path: Path) -> None:
    """A port that accepts TCP and never answers: each TLS handshake waits 5 s (paho's connect
    timeout) inside a connection attempt, which may take longer than the usual bound, and fails
    with its reason; the loop is never taken for stuck and turns between attempts."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes the handshakes; nobody ever reads
        tls = {"enabled": True, "insecure_skip_verify": True}
        pub = Publisher(mqtt_cfg(silent.getsockname()[1], tls=tls), ID, Outbox(tmp_path / "o"))
        pub.start()
        try:
            end = time.monotonic() + 7.0
            while time.monotonic() < end:
                assert stuck_loops(pub.loops()) == []
                time.sleep(0.1)
            assert (pub.state().last_error or "").startswith("timeout"), pub.state()
            assert pub.network.bound_s == STUCK_AFTER_S or pub.network.age() < 6.0
        finally:
            pub.stop(flush_timeout_s=0)
