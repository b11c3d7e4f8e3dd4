"""Tests of packaging/: the systemd unit (verify, hardening, exposure score) and the udev rule."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "packaging" / "triage-agent.service"
UDEV = ROOT / "packaging" / "99-triage-thermometer.rules"
EXEC = "/opt/triage-agent/bin/triage-agent"

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt systemd)"
)


def unit_settings(text: str) -> dict[str, list[str]]:
    """Key -> values (systemd allows repeated keys) of a unit file, section-agnostic."""
    out: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def _unit_for_verify(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at a real executable (verify checks that it exists)."""
    exe = tmp_path / "bin" / "triage-agent"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    unit = tmp_path / "triage-agent.service"
    unit.write_text(UNIT.read_text().replace(EXEC, str(exe)))
    return unit


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    unit = _unit_for_verify(tmp_path)
    res = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "", res.stderr


@needs_analyze
def test_security_exposure_is_low(tmp_path: Path) -> None:
    unit = _unit_for_verify(tmp_path)
    res = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", res.stdout)
    assert m, res.stdout + res.stderr
    # docs/PACKAGING.md reports the figure; 1.5 when written. Fail if hardening regresses.
    assert float(m.group(1)) <= 2.0, res.stdout


def test_unit_declares_the_contract() -> None:
    s = unit_settings(UNIT.read_text())
    expect = {
        "Type": "notify",
        "NotifyAccess": "main",
        "Restart": "on-failure",
        "RestartPreventExitStatus": "78",
        "StateDirectory": "triage-agent",
        "ConfigurationDirectory": "triage-agent",
        "RuntimeDirectory": "triage-agent",
        "User": "triage-agent",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "DevicePolicy": "closed",
        "CapabilityBoundingSet": "",
    }
    for key, value in expect.items():
        assert s.get(key) == [value], key
    assert int(s["WatchdogSec"][0]) > 0
    assert set(s["SupplementaryGroups"][0].split()) == {"dialout", "video"}
    assert "@system-service" in s["SystemCallFilter"]
    allowed = {v.split()[0] for v in s["DeviceAllow"]}
    assert {"char-ttyUSB", "char-ttyACM", "char-video4linux"} <= allowed
    families = set(s["RestrictAddressFamilies"][0].split())
    assert families == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert s["ExecStart"][0].startswith(EXEC + " run --config /etc/triage-agent/config.toml")


def test_udev_rule_matches_the_supported_devices() -> None:
    text = UDEV.read_text()
    pairs = set(
        re.findall(r'ATTRS\{idVendor\}=="([0-9a-f]{4})", ATTRS\{idProduct\}=="([0-9a-f]{4})"', text)
    )
    assert pairs == {("2e8a", "0005"), ("1a86", "7523"), ("10c4", "ea60"), ("0403", "6001")}
    assert 'SYMLINK+="triage-thermometer"' in text
    assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in text
    labels = set(re.findall(r'LABEL="(\w+)"', text))
    gotos = set(re.findall(r'GOTO="(\w+)"', text))
    assert gotos <= labels, "every GOTO needs its LABEL"
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            # udev rules are one line each; key/operator/value pairs separated by commas.
            assert re.fullmatch(r'(\s*[A-Z_]+(\{[^}]+\})?(==|!=|\+=|=|:=)"[^"]*",?)+\s*', line), (
                line
            )
