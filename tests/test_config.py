"""Config validation, actionable errors, env secrets (the docs kept in sync:
tests/test_cli_configdoc.py; exit status 78 from the command line: tests/test_cli_main.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from agent.config import AgentConfig, ConfigError, load_config, parse_config

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


def test_example_is_plain_toml() -> None:
    tomllib.loads(EXAMPLE.read_text())
