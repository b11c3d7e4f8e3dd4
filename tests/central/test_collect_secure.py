"""The collector over TLS with a user name and password, and its exact status subscriptions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central.collect import Collector
from central.config import BrokerSettings
from central.store.db import open_db
from tests.broker import Broker, free_port
from tests.central.test_collect import T0, wait_count
from tests.central.wire import encoded, identity, status, temperature

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[2]


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _server_pki(d: Path) -> dict[str, Path]:
    """A throwaway CA and a broker certificate for 127.0.0.1/localhost (2 days)."""
    p = {n: d / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem", "ext")}
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca",
             "-keyout", str(p["ca.key"]), "-out", str(p["ca.pem"]))  # fmt: skip
    p["ext"].write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", str(p["srv.key"]), "-out", str(p["srv.csr"]))  # fmt: skip
    _openssl("x509", "-req", "-in", str(p["srv.csr"]), "-CA", str(p["ca.pem"]),
             "-CAkey", str(p["ca.key"]), "-CAcreateserial", "-days", "2",
             "-out", str(p["srv.pem"]), "-extfile", str(p["ext"]))  # fmt: skip
    return p


@pytest.mark.slow
def test_collect_over_tls_with_a_password_and_a_read_only_acl(
    db_url: str, tmp_path: Path, broker_factory: Callable[..., Broker]
) -> None:
    pki = _server_pki(tmp_path)
    pw, acl = tmp_path / "passwd", tmp_path / "acl"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "central", "c3ntral"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "clinic-001-desk-1", "b0x"], check=True)
    acl.write_text(
        "user central\ntopic read triage/v1/#\n\n"
        "user clinic-001-desk-1\ntopic write triage/v1/clinic-001/desk-1/#\n"
    )
    tls_port = free_port()
    broker = broker_factory(
        [
            "allow_anonymous false",
            f"password_file {pw}",
            f"acl_file {acl}",
            f"listener {tls_port} 127.0.0.1",
            f"cafile {pki['ca.pem']}",
            f"certfile {pki['srv.pem']}",
            f"keyfile {pki['srv.key']}",
        ]
    )
    engine = open_db(db_url)
    log = (tmp_path / "collector.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "central", "collect", "--db", db_url, "--host", "localhost",
         "--port", str(tls_port), "--ca-file", str(pki["ca.pem"]), "--username", "central",
         "--client-id", "central-tls"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "TRIAGE_CENTRAL_MQTT_PASSWORD": "c3ntral"},
    )  # fmt: skip
    try:
        box = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="clinic-001-desk-1",
            protocol=mqtt.MQTTv5,
        )
        box.username_pw_set("clinic-001-desk-1", "b0x")
        box.connect("127.0.0.1", broker.port)
        box.loop_start()
        deadline = time.monotonic() + 30
        while "Sending SUBACK to central-tls" not in broker.log():
            assert time.monotonic() < deadline, (tmp_path / "collector.log").read_text()
            time.sleep(0.1)
        msgs = encoded([temperature(T0 + i) for i in range(10)], identity("clinic-001", "desk-1"))
        for m in msgs:
            box.publish(m.topic, m.payload, qos=1).wait_for_publish(10)
        assert wait_count(engine, 10, 20) == 10, (tmp_path / "collector.log").read_text()
        box.loop_stop()
        box.disconnect()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    text = (tmp_path / "collector.log").read_text()
    assert "connected to localhost" in text
    assert "stored 10" in text


def test_exact_status_subscriptions_for_known_desks(mosquitto: Broker, tmp_path: Path) -> None:
    engine = open_db(str(tmp_path / "c.sqlite3"))
    first = Collector(BrokerSettings(port=mosquitto.port, client_id="c-first"), engine)
    first.start()
    assert first.subscribed.wait(10)
    pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    for m in encoded([status(T0, "online")], identity("clinic-005", "desk-2")):
        pub.publish(m.topic, m.payload, qos=1, retain=True).wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()
    assert wait_count(engine, 1) == 1
    first.stop()
    cfg = BrokerSettings(
        port=mosquitto.port,
        client_id="c-exact",
        exact_status=True,
        desks=(("clinic-009", "desk-3"),),
    )
    second = Collector(cfg, engine)
    second.start()
    assert second.subscribed.wait(10)
    second.stop()
    log = mosquitto.log()
    for desk in ("clinic-005/desk-2", "clinic-009/desk-3"):
        for kind in ("status", "health"):
            assert f"\ttriage/v1/{desk}/{kind} (QoS 1)" in log
