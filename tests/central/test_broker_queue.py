"""Broker-side drops: the mosquitto settings of docs/CENTRAL.md ("Broker settings for a district"),
as written, on a real mosquitto. A burst ten times mosquitto's default queue (1000 messages) queued
for an offline persistent session is delivered whole, across a broker restart too; with mosquitto's
defaults the same burst loses all but 1000, and the broker's ``$SYS`` counter and log say so.
``make central`` runs the same settings (tools/centralrun.py keeps a copy held equal here).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from agent.wire.contract import Identity, WireMessage, encode
from tests.broker import Broker, Collector, free_port
from tests.central.test_integration_doc import fenced
from tools import centralrun
from tools.district_load import PREFIX, desk_events

pytestmark = pytest.mark.broker

DESKS = 100
PER_DESK = 100
BURST = DESKS * PER_DESK
MOSQUITTO_DEFAULT_QUEUE = 1000
MOSQUITTO_DEFAULT_INFLIGHT = 20
SESSION = "triage-central-1"
T0 = 1_795_000_000.0


def documented() -> list[str]:
    """The settings block of docs/CENTRAL.md, as written."""
    [block] = fenced("CENTRAL.md", "## Broker settings for a district", "conf")
    return block.splitlines()


def burst(desks: int = DESKS, per_desk: int = PER_DESK) -> list[WireMessage]:
    """Real agent-encoded events at the clinic-day mix of the load test, desks interleaved."""
    msgs: list[WireMessage] = []
    for d in range(desks):
        site, desk = f"clinic-{d // 4:04d}", f"desk-{d % 4 + 1}"
        ident = Identity(PREFIX, site, desk, f"{site}-{desk}")
        msgs += [encode(e, ident, s + 1) for s, e in enumerate(desk_events(d, per_desk, T0))]
    return sorted(msgs, key=lambda m: str(json.loads(m.payload)["ts"]))


def publish(port: int, msgs: list[WireMessage]) -> float:
    """Publish at QoS 1 over one connection; every PUBACK must be a success. Returns seconds."""
    acks: list[ReasonCode] = []
    done = threading.Event()

    def on_publish(c: mqtt.Client, u: object, mid: int, rc: ReasonCode, p: object) -> None:
        acks.append(rc)
        if len(acks) == len(msgs):
            done.set()

    pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)
    pub.on_publish = on_publish
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    t0 = time.monotonic()
    for m in msgs:
        pub.publish(m.topic, m.payload, qos=1, retain=m.retain)
    assert done.wait(60), f"{len(acks)} of {len(msgs)} acknowledged"
    took = time.monotonic() - t0
    pub.disconnect()
    pub.loop_stop()
    assert not [rc for rc in acks if rc.is_failure]
    return took


def dropped(port: int) -> int:
    """``$SYS/broker/publish/messages/dropped`` (published every ``sys_interval`` s, retained)."""
    got: list[bytes] = []
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.on_connect = lambda cl, u, f, rc, p: cl.subscribe("$SYS/broker/publish/messages/dropped")
    c.on_message = lambda cl, u, m: got.append(bytes(m.payload))
    c.connect("127.0.0.1", port)
    c.loop_start()
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    c.disconnect()
    c.loop_stop()
    assert got, "no $SYS counter"
    return int(got[-1])


def rss_kib(broker: Broker) -> int:
    assert broker.proc is not None
    for line in Path(f"/proc/{broker.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def delivered(port: int) -> set[str]:
    """Reconnect the persistent session and take what the broker kept for it."""
    back = Collector(port, f"{PREFIX}/#", session=SESSION)
    try:
        return {m.json()["id"] for m in back.settle(quiet_s=1.0, timeout=60)}
    finally:
        back.close()


@pytest.mark.slow
@pytest.mark.parametrize("settings", ["documented", "mosquitto-default"])
def test_a_burst_queued_for_an_offline_collector_is_delivered_whole(
    tmp_path: Path, broker_factory: Callable[..., Broker], settings: str
) -> None:
    lines = [*documented(), f"persistence_location {tmp_path}/"] if settings == "documented" else []
    broker = broker_factory([*lines, "sys_interval 1"])  # $SYS every second (the test reads it)
    Collector(broker.port, f"{PREFIX}/#", session=SESSION).close()  # subscribed, then away
    msgs = burst()
    assert len(msgs) == BURST >= 10 * MOSQUITTO_DEFAULT_QUEUE
    before = rss_kib(broker)
    took = publish(broker.port, msgs)
    queued_kib = rss_kib(broker) - before
    got = delivered(broker.port)
    assert got <= {json.loads(m.payload)["id"] for m in msgs}
    time.sleep(1.5)  # the next $SYS update
    lost = dropped(broker.port)
    log = broker.log()
    print(
        f"{settings}: {BURST} published in {took:.2f} s, {len(got)} delivered, {lost} dropped, "
        f"broker RSS +{queued_kib} KiB while queued ({queued_kib * 1024 / BURST:.0f} B each)"
    )
    if settings == "documented":
        assert len(got) == BURST
        assert lost == 0
        assert "being dropped" not in log
        # docs/CENTRAL.md sizes the broker's memory from about 570 bytes per queued message.
        assert queued_kib * 1024 / BURST < 1000
    else:  # what `make central` ran before, and any mosquitto left at its defaults
        # The queue, plus the in-flight window the broker fills for the session too.
        assert (
            MOSQUITTO_DEFAULT_QUEUE
            <= len(got)
            <= MOSQUITTO_DEFAULT_QUEUE + MOSQUITTO_DEFAULT_INFLIGHT
        )
        assert lost >= BURST - len(got), "the counter shows at least what was lost"
        assert f"Outgoing messages are being dropped for client {SESSION}." in log


@pytest.mark.slow
def test_the_queue_survives_a_broker_restart(
    tmp_path: Path, broker_factory: Callable[..., Broker]
) -> None:
    lines = [*documented(), f"persistence_location {tmp_path}/"]
    broker = broker_factory(lines)
    Collector(broker.port, f"{PREFIX}/#", session=SESSION).close()
    msgs = burst()
    publish(broker.port, msgs)
    broker.stop()  # SIGTERM: mosquitto saves its database on the way out
    assert (tmp_path / "mosquitto.db").stat().st_size > BURST * 200
    again = broker_factory(lines, port=broker.port)
    assert delivered(again.port) == {json.loads(m.payload)["id"] for m in msgs}


def test_make_central_runs_the_documented_settings(tmp_path: Path) -> None:
    assert "\n".join(documented()) + "\n" == centralrun.DISTRICT_BROKER_SETTINGS
    port = free_port()
    proc = centralrun.start_broker(tmp_path, port)
    try:
        conf = (tmp_path / "mosquitto.conf").read_text()
        assert centralrun.DISTRICT_BROKER_SETTINGS in conf
        Collector(port, f"{PREFIX}/#", session=SESSION).close()
        msgs = burst(desks=15)  # 1,500: more than mosquitto's default queue
        publish(port, msgs)
        assert len(delivered(port)) == len(msgs) > MOSQUITTO_DEFAULT_QUEUE
    finally:
        proc.terminate()
        proc.wait(10)
