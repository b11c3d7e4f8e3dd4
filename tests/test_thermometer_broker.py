"""End to end: emulator pty -> `triage-agent run` -> real mosquitto: temperature and alert events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.thermometer.simulated_port import emulator
from firmware_bridge.trace import generate
from tests.broker import Broker, Collector
from tests.conftest import AgentProcess, base_config, validate_message, write_config


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.parametrize("protocol", ["bridge", "gy-mcu90614"])
def test_emulated_thermometer_events_reach_the_broker(
    tmp_path: Path,
    protocol: str,
    mosquitto: Broker,
    collector_factory: Callable[..., Collector],
    agent_process: Callable[..., AgentProcess],
) -> None:
    trace = generate("fever", seed=11)
    truth = trace.presentations[0]
    emu = emulator(protocol, trace, loop=True)
    try:
        raw = base_config(
            tmp_path,
            mosquitto.port,
            thermometer={"enabled": True, "port": emu.start(), "protocol": protocol},
        )
        got = collector_factory(mosquitto.port)
        agent = agent_process(write_config(tmp_path / "config.toml", raw))
        msgs = got.wait_for(
            lambda ms: (
                any(m.topic.endswith("/alert") for m in ms)
                and any(m.topic.endswith("/temperature") for m in ms)
            ),
            timeout=60,
        )
        assert agent.proc.poll() is None, agent.output()
        temps = [validate_message(m) for m in msgs if m.topic.endswith("/temperature")]
        assert temps[0]["result"] == "fever"
        assert temps[0]["object_c"] == pytest.approx(truth.plateau_c, abs=0.1)
        alert = next(validate_message(m) for m in msgs if m.topic.endswith("/alert"))
        assert alert["state"] == "raised"
        assert "clinical thermometer" in alert["message"]
        assert agent.stop() == 0, agent.output()
    finally:
        emu.stop()
