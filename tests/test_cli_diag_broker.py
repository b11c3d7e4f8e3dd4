"""The diag broker checks against a real mosquitto (ACLs, passwords), step by step."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.cli.diag.broker import probe_broker
from tests.broker import Broker, free_port
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
