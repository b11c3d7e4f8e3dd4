"""Config validation, actionable errors with exit status 78, env secrets (the docs kept in sync:
tests/test_cli_configdoc.py)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.config import EX_CONFIG, AgentConfig, ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "packaging" / "config.example.toml"


def test_defaults_are_valid_embedded_defaults() -> None:
    cfg = AgentConfig()
    assert cfg.mqtt.topic_prefix == "triage/v1"
    assert cfg.thermometer.port == "simulated"
    assert cfg.camera.source == "simulated"
    assert cfg.screening.fever_threshold_c == 37.3
    assert cfg.device.device_id == "demo-clinic-desk-1"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"mqtt": {"hots": "x"}}, "c.toml")
    assert "mqtt.hots: unknown key" in str(err.value)


def test_bad_value_names_file_field_value_and_rule() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"mqtt": {"port": 70000}, "device": {"site": "Clinic 1"}}, "/etc/x.toml")
    text = str(err.value)
    assert "/etc/x.toml" in text
    assert "mqtt.port = 70000" in text
    assert "less than or equal to 65535" in text
    assert "device.site = 'Clinic 1'" in text


def test_password_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"mqtt": {"password": 12345}}, "c.toml")
    assert "12345" not in str(err.value)


def test_tls_cert_without_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="cert_file and key_file"):
        parse_config({"mqtt": {"tls": {"enabled": True, "cert_file": "/x.pem"}}})


def test_env_overrides_secrets() -> None:
    cfg = parse_config(
        {"mqtt": {"username": "file-user"}},
        environ={"TRIAGE_MQTT_USERNAME": "env-user", "TRIAGE_MQTT_PASSWORD": "pw"},
    )
    assert cfg.mqtt.username == "env-user"
    assert cfg.mqtt.password is not None
    assert cfg.mqtt.password.get_secret_value() == "pw"
    assert "pw" not in repr(cfg)


def test_long_site_and_desk_need_an_explicit_device_id() -> None:
    with pytest.raises(ConfigError, match="set device.id"):
        parse_config({"device": {"site": "a" * 20, "desk": "b" * 20}})
    cfg = parse_config({"device": {"site": "a" * 20, "desk": "b" * 20, "id": "box-7"}})
    assert cfg.device.device_id == "box-7"


def test_toml_syntax_error_points_at_the_line(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[mqtt]\nport = = 1\n")
    with pytest.raises(ConfigError, match=r"invalid TOML .*line 2"):
        load_config(f)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config.example.toml"):
        load_config(tmp_path / "nope.toml")


def test_config_check_command_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[device]\nsite = "c1"\n'
        '[thermometer]\nport = "simulated"\n'  # the simulated devices are asked for explicitly
        f'[camera]\nsource = "simulated"\n[vision]\nmodels_dir = "{REPO / "models"}"\n'
    )
    assert main(["config", "check", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera]\nmax_fps = -1\n")
    assert main(["config", "check", str(bad)]) == EX_CONFIG
    err = capsys.readouterr().err
    assert "camera.max_fps = -1" in err
    assert str(bad) in err


def test_run_with_bad_config_exits_78_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[thermometer]\nprotocol = "modbus"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "run", "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == EX_CONFIG
    assert "thermometer.protocol = 'modbus'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_example_is_plain_toml() -> None:
    tomllib.loads(EXAMPLE.read_text())
