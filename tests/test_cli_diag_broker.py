"""The diag broker checks against a real mosquitto (ACLs, passwords), step by step."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.cli.diag.broker import probe_broker
from tests.broker import Broker, Collector, free_port
from tests.conftest import AgentProcess, base_config, write_config
from tests.diag_helpers import cfg_for


# -- broker --------------------------------------------------------------------------------------
@pytest.mark.broker
def test_broker_all_steps_pass(tmp_path: Path, mosquitto: Broker) -> None:
    probes = probe_broker(cfg_for(tmp_path, mosquitto.port))
    verdicts = {p.name: p.verdict for p in probes}
    assert verdicts == {
        "broker dns": "PASS",
        "broker tcp": "PASS",
        "broker tls": "SKIP",
        "broker login": "PASS",
        "broker publish": "PASS",
    }


@pytest.mark.broker
def test_broker_refused_publish_is_reported(
    tmp_path: Path, broker_factory: Callable[..., Broker]
) -> None:
    acl = tmp_path / "acl"
    acl.write_text("topic read #\n")  # anonymous clients may only read
    broker = broker_factory(["allow_anonymous true", f"acl_file {acl}"])
    probes = probe_broker(cfg_for(tmp_path, broker.port))
    last = probes[-1]
    assert last.name == "broker publish"
    assert last.verdict == "FAIL"
    assert "Not authorized" in last.detail
    assert last.fix is not None
    assert "triage/v1/test-site/desk-1/#" in last.fix


@pytest.mark.broker
def test_broker_bad_password_is_reported(
    tmp_path: Path, broker_factory: Callable[..., Broker]
) -> None:
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "desk", "right"], check=True)
    pw.chmod(0o600)
    broker = broker_factory(["allow_anonymous false", f"password_file {pw}"])
    cfg = cfg_for(tmp_path, broker.port, mqtt={"username": "desk", "password": "wrong"})
    last = probe_broker(cfg)[-1]
    assert last.name == "broker login"
    assert last.verdict == "FAIL"
    assert "refused the login" in last.detail
    good = cfg_for(tmp_path, broker.port, mqtt={"username": "desk", "password": "right"})
    assert probe_broker(good)[-1].verdict == "PASS"


def test_broker_unresolvable_and_refused(tmp_path: Path) -> None:
    dns = probe_broker(cfg_for(tmp_path, mqtt={"host": "no-such-host.invalid"}))
    assert [p.verdict for p in dns] == ["FAIL"]
    tcp = probe_broker(cfg_for(tmp_path, free_port()))
    assert [(p.name, p.verdict) for p in tcp] == [("broker dns", "PASS"), ("broker tcp", "FAIL")]


@pytest.mark.broker
def test_broker_missing_or_rejected_client_certificate_is_named(
    tmp_path: Path, broker_factory: Callable[..., Broker]
) -> None:
    from tests.pki import make_pki, self_signed_ca

    pki = make_pki(tmp_path / "pki")
    tls_port = free_port()
    broker_factory(
        extra=[
            f"listener {tls_port} 127.0.0.1",
            f"cafile {pki['ca.pem']}",
            f"certfile {pki['srv.pem']}",
            f"keyfile {pki['srv.key']}",
            "require_certificate true",
        ]
    )
    tls = {"enabled": True, "ca_file": str(pki["ca.pem"])}
    mqtt = {"host": "localhost", "port": tls_port}
    missing = probe_broker(cfg_for(tmp_path, tls_port, mqtt={**mqtt, "tls": tls}))
    assert missing[-1].name == "broker tls"
    assert missing[-1].verdict == "FAIL"
    assert "client certificate missing" in missing[-1].detail
    assert missing[-1].fix is not None
    assert "cert_file" in missing[-1].fix

    # a certificate from a CA the broker does not trust
    self_signed_ca("stranger", tmp_path / "s.key", tmp_path / "s.pem")
    stranger = {**tls, "cert_file": str(tmp_path / "s.pem"), "key_file": str(tmp_path / "s.key")}
    rejected = probe_broker(cfg_for(tmp_path, tls_port, mqtt={**mqtt, "tls": stranger}))
    assert rejected[-1].name == "broker tls"
    assert "client certificate rejected" in rejected[-1].detail


@pytest.mark.broker
@pytest.mark.slow
def test_diag_on_a_running_box_never_replaces_its_connection(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    agent_process: Callable[..., AgentProcess],
) -> None:
    """With client ids tied to user names (docs/INTEGRATION.md), a second login with the box's
    credentials would become the agent's own client id, cut it off and publish its Will. diag on
    a running box reports the agent's own connection instead of logging in again."""
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "box", "s3cret"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "watch", "w4tch"], check=True)
    broker = broker_factory(
        extra=["allow_anonymous false", f"password_file {pw}", "use_username_as_clientid true"]
    )
    watcher = Collector(broker.port, "triage/v1/+/+/status", auth=("watch", "w4tch"))
    raw = base_config(tmp_path, broker.port, mqtt={"username": "box", "password": "s3cret"})
    config = write_config(tmp_path / "config.toml", raw)
    agent = agent_process(config)
    watcher.wait_for(lambda ms: any(b'"online"' in m.payload for m in ms), timeout=30)
    done = subprocess.run(
        [sys.executable, "-m", "agent", "diag", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["broker login"]["verdict"] == "PASS", checks["broker login"]
    assert "the running agent is connected" in checks["broker login"]["detail"]
    assert "broker publish" not in checks
    time.sleep(3.0)
    states = [json.loads(m.payload)["state"] for m in watcher.messages]
    assert "offline" not in states, states
    assert agent.proc.poll() is None
    watcher.close()
