"""Any broker: RabbitMQ 3.10's MQTT plugin speaks only 3.1.1; the agent (MQTT 5 by default) falls
back, logs it once and delivers. Connection failures are logged with their reason and shown as
``last_error``. Real brokers only: a private RabbitMQ node and mosquitto."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.broker import Broker, Collector, free_port
from tests.conftest import AgentProcess, base_config, validate_message, write_config
from tests.rabbitmq import RABBITMQ_SERVER, RabbitNode
from tests.reliability import wait_status

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
def rabbit(tmp_path: Path) -> Iterator[RabbitNode]:
    if not Path(RABBITMQ_SERVER).exists() and shutil.which("rabbitmq-server") is None:
        pytest.skip("rabbitmq-server is not installed (`make setup` installs it)")
    node = RabbitNode(tmp_path / "rabbit").start()
    yield node
    node.stop()


def test_mqtt5_agent_falls_back_to_311_on_rabbitmq(
    tmp_path: Path, rabbit: RabbitNode, agent_process: Callable[..., AgentProcess]
) -> None:
    topic = "triage/v1/test-site/desk-1/health"  # exact topic: RabbitMQ and retained, see EVENTS
    c = Collector(rabbit.mqtt_port, topic, protocol=mqtt.MQTTv311)
    try:
        cfg = base_config(tmp_path, rabbit.mqtt_port)
        assert "protocol" not in cfg["mqtt"]  # the default: MQTT 5
        conf = write_config(tmp_path / "agent.toml", cfg)
        agent = agent_process(conf)
        msgs = c.wait_for(lambda ms: len(ms) >= 2, timeout=60)
        for m in msgs:
            validate_message(m)
        snap = wait_status(Path(cfg["runtime"]["status_socket"]), lambda s: True)
        assert snap["broker"]["connected"] is True
        assert snap["broker"]["last_error"] is None
        assert agent.stop() == 0
    finally:
        c.close()
    out = agent.output()
    assert out.count("speaks only MQTT 3.1.1") == 1, out


def test_refused_connection_is_logged_with_its_reason_and_rate_limited(
    tmp_path: Path, agent_process: Callable[..., AgentProcess]
) -> None:
    cfg = base_config(tmp_path, free_port())  # nothing listens there
    cfg["mqtt"]["reconnect_min_s"] = 1
    cfg["mqtt"]["reconnect_max_s"] = 1
    agent = agent_process(write_config(tmp_path / "agent.toml", cfg))
    snap = wait_status(
        Path(cfg["runtime"]["status_socket"]),
        lambda s: (s["broker"]["last_error"] or "").startswith("refused"),
    )
    time.sleep(4)  # several attempts, one log line
    assert agent.stop() == 0
    out = agent.output()
    assert out.count("cannot connect to broker") == 1, out
    assert "refused: nothing listens" in snap["broker"]["last_error"]


def test_bad_credentials_and_missing_client_certificate_are_named(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    agent_process: Callable[..., AgentProcess],
) -> None:
    from tests.pki import make_pki

    pki = make_pki(tmp_path / "pki")
    tls_port = free_port()
    pw = tmp_path / "passwd"
    pw.write_text("")
    import subprocess

    subprocess.run(["mosquitto_passwd", "-b", str(pw), "agent", "right"], check=True)
    broker = broker_factory(
        extra=[
            f"password_file {pw}",
            f"listener {tls_port} 127.0.0.1",
            f"cafile {pki['ca.pem']}",
            f"certfile {pki['srv.pem']}",
            f"keyfile {pki['srv.key']}",
            "require_certificate true",
        ]
    )
    cases = {
        "bad credentials": {"port": broker.port, "username": "agent", "password": "wrong"},
        "TLS: the broker requires a client certificate": {
            "port": tls_port,
            "host": "localhost",
            "tls": {"enabled": True, "ca_file": str(pki["ca.pem"])},
        },
    }
    for i, (expected, mqtt_cfg) in enumerate(cases.items()):
        cfg = base_config(tmp_path / str(i), broker.port, mqtt=mqtt_cfg)
        (tmp_path / str(i)).mkdir()
        agent = agent_process(write_config(tmp_path / str(i) / "agent.toml", cfg))
        snap = wait_status(
            Path(cfg["runtime"]["status_socket"]),
            lambda s: (s["broker"]["last_error"] or "").startswith(expected),  # noqa: B023
        )
        assert agent.stop() == 0
        assert expected in agent.output()
        assert "wrong" not in agent.output()
        assert "wrong" not in str(snap)


def test_rabbitmq_retained_reaches_exact_topics_not_wildcards(rabbit: RabbitNode) -> None:
    """What docs/EVENTS.md says about RabbitMQ and retained messages, and its workaround."""
    pub = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="retainer",
        protocol=mqtt.MQTTv311,
    )
    pub.connect("127.0.0.1", rabbit.mqtt_port)
    pub.loop_start()
    pub.publish("triage/v1/c/d/status", b'{"state":"online"}', qos=1, retain=True).wait_for_publish(
        10
    )
    pub.loop_stop()
    pub.disconnect()
    wild = Collector(rabbit.mqtt_port, "triage/v1/+/+/status", protocol=mqtt.MQTTv311)
    exact = Collector(rabbit.mqtt_port, "triage/v1/c/d/status", protocol=mqtt.MQTTv311)
    try:
        exact.wait_for(lambda ms: len(ms) == 1, timeout=10)
        time.sleep(1)
        assert wild.messages == []
    finally:
        wild.close()
        exact.close()


def test_unresolvable_host_is_named_dns(tmp_path: Path) -> None:
    from agent.wire.config import MqttConfig
    from agent.wire.contract import Identity
    from agent.wire.outbox import Outbox
    from agent.wire.publisher import Publisher

    box = Outbox(tmp_path / "o.sqlite3")
    pub = Publisher(
        MqttConfig(host="no-such-host.invalid", reconnect_min_s=1, reconnect_max_s=1),
        Identity("triage/v1", "s", "d", "s-d"),
        box,
    )
    pub.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (pub.state().last_error or "").startswith("DNS"):
            time.sleep(0.1)
        assert (pub.state().last_error or "").startswith("DNS: cannot resolve"), pub.state()
    finally:
        pub.stop(flush_timeout_s=0)
        box.close()
