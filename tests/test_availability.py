"""The availability rule of docs/EVENTS.md, checked in every way a desk can go away or come back.

Rule: the retained ``status`` is authoritative, and a desk whose retained ``health`` is older than
3 x ``health_every_s`` (given in the ``online`` status) is not reachable whatever the status says.
Each test runs the real ``triage-agent run`` against a real mosquitto and reads what a subscriber
that connects *afterwards* is told (retained messages only).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.broker import Broker, Collector
from tests.conftest import AgentProcess, base_config, validate_message, write_config

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def retained(broker: Broker, collector_factory: Callable[..., Collector]) -> dict[str, Any]:
    """What a new subscriber learns: the retained status and health of the test desk."""
    c = collector_factory(broker.port, "triage/v1/test-site/desk-1/+")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and len(c.messages) < 2:
        time.sleep(0.05)
    out: dict[str, Any] = {}
    for m in c.messages:
        if m.retain:
            out[m.topic.rsplit("/", 1)[-1]] = validate_message(m)
    c.close()
    return out


def desk_is_up(seen: dict[str, Any], now: float) -> bool:
    """The documented rule, as a subscriber would code it."""
    status, health = seen.get("status"), seen.get("health")
    if status is None or status["state"] != "online" or health is None:
        return False
    from datetime import datetime

    age = now - datetime.fromisoformat(health["ts"].replace("Z", "+00:00")).timestamp()
    return bool(age <= 3 * status["health_every_s"])


def config(tmp_path: Path, port: int) -> Path:
    cfg = base_config(tmp_path, port)
    cfg["mqtt"]["keepalive_s"] = 5
    return write_config(tmp_path / "agent.toml", cfg)


def wait_up(broker: Broker, collector_factory: Callable[..., Collector]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = retained(broker, collector_factory)
        if desk_is_up(seen, time.time()):
            return seen
        time.sleep(0.5)
    raise AssertionError("the desk never came up")


def test_clean_stop_leaves_offline_stopped(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    agent = agent_process(config(tmp_path, mosquitto.port))
    wait_up(mosquitto, collector_factory)
    assert agent.stop() == 0
    seen = retained(mosquitto, collector_factory)
    assert (seen["status"]["state"], seen["status"]["reason"]) == ("offline", "stopped")
    assert not desk_is_up(seen, time.time())


def test_sigkill_leaves_offline_lost_and_a_restart_comes_back(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    conf = config(tmp_path, mosquitto.port)
    agent = agent_process(conf)
    up = wait_up(mosquitto, collector_factory)
    agent.stop(sig=signal.SIGKILL)
    time.sleep(0.5)
    seen = retained(mosquitto, collector_factory)
    assert (seen["status"]["state"], seen["status"]["reason"]) == ("offline", "lost")
    assert seen["status"]["seq"] > up["status"]["seq"], "the Will outranks the birth by seq"
    agent2 = agent_process(conf)  # restart after a crash
    again = wait_up(mosquitto, collector_factory)
    assert again["status"]["seq"] > seen["status"]["seq"]
    assert agent2.stop() == 0


def test_frozen_box_power_or_network_cut_goes_offline_by_keepalive(
    tmp_path: Path,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    """SIGSTOP: no FIN, no packets, exactly what the broker sees of a power or network cut."""
    agent = agent_process(config(tmp_path, mosquitto.port))
    wait_up(mosquitto, collector_factory)
    agent.proc.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        deadline = t0 + 20
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            seen = retained(mosquitto, collector_factory)
            if seen["status"]["state"] == "offline":
                break
        assert seen["status"]["reason"] == "lost"
        print(f"FIGURES cut: offline after {time.monotonic() - t0:.1f} s (keepalive 5 s)")
    finally:
        agent.proc.send_signal(signal.SIGCONT)
    wait_up(mosquitto, collector_factory)  # the box comes back by itself
    assert agent.stop() == 0


@pytest.mark.parametrize("broker_stop", ["clean", "crash"])
def test_box_dying_while_the_broker_is_down(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
    broker_stop: str,
) -> None:
    """A clean broker stop sends the Wills (mosquitto); a crashed one cannot: health age tells."""
    store = tmp_path / "mosq"
    store.mkdir()
    persist = ["persistence true", f"persistence_location {store}/", "autosave_interval 1"]
    broker = broker_factory(extra=persist)
    cfg = base_config(tmp_path, broker.port)
    cfg["reporting"]["health_interval_s"] = 1
    conf = write_config(tmp_path / "agent.toml", cfg)
    agent = agent_process(conf)
    wait_up(broker, collector_factory)
    time.sleep(2)  # an autosave of the retained messages
    assert broker.proc is not None
    if broker_stop == "clean":
        broker.stop()
    else:
        broker.proc.kill()
        broker.proc.wait()
    agent.stop(sig=signal.SIGKILL)
    broker.start()  # same port, same store: the retained messages are back
    seen = retained(broker, collector_factory)
    if broker_stop == "clean":
        assert (seen["status"]["state"], seen["status"]["reason"]) == ("offline", "lost")
    else:
        assert seen["status"]["state"] == "online"  # stale: nobody could publish the Will
    time.sleep(3.5)
    assert not desk_is_up(retained(broker, collector_factory), time.time())
    agent2 = agent_process(conf)  # and a box that comes back is seen up again
    wait_up(broker, collector_factory)
    assert agent2.stop() == 0


def test_broker_restart_with_the_agent_running_is_online_again(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    broker = broker_factory()  # no persistence: the retained messages die with it
    agent = agent_process(config(tmp_path, broker.port))
    wait_up(broker, collector_factory)
    broker.stop()
    time.sleep(1)
    broker.start()
    seen = wait_up(broker, collector_factory)
    assert json.dumps(seen["status"]).count("online") == 1
    assert agent.stop() == 0
