"""Every bad value a technician (or a fuzzer) can put in the file: exit 78 naming the field.

Values are written as real TOML files (tomli_w) and checked with ``triage-agent config check``, the
same path ``run`` takes; a traceback or any other exit status fails the test.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from agent.cli.main import main
from agent.config import EX_CONFIG, ConfigError, parse_config
from agent.flow.settings import MAX_TEXT
from tests.pki import make_pki, self_signed_ca

BAD_VALUES: list[tuple[str, dict[str, Any], str]] = [
    ("port true", {"mqtt": {"port": True}}, "mqtt.port"),
    ("host blank", {"mqtt": {"host": " "}}, "mqtt.host"),
    ("host url", {"mqtt": {"host": "mqtt://broker.example"}}, "mqtt.host"),
    ("host with port", {"mqtt": {"host": "broker:1883 x"}}, "mqtt.host"),
    (
        "nan threshold",
        {"screening": {"fever_threshold_c": math.nan}},
        "screening.fever_threshold_c",
    ),
    ("inf offset", {"screening": {"site_offset_c": math.inf}}, "screening.site_offset_c"),
    (
        "valid range reversed",
        {"screening": {"min_valid_c": 40.0, "max_valid_c": 35.0}},
        "screening",
    ),
    ("stale inf", {"thermometer": {"stale_after_s": math.inf}}, "thermometer.stale_after_s"),
    ("reconnect inf", {"mqtt": {"reconnect_max_s": math.inf}}, "mqtt.reconnect_max_s"),
    ("huge duration", {"reporting": {"health_interval_s": 1e300}}, "reporting.health_interval_s"),
    (
        "socket too long",
        {"runtime": {"status_socket": "/run/" + "s" * 110}},
        "runtime.status_socket",
    ),
    ("outbox empty", {"outbox": {"path": ""}}, "outbox.path"),
    ("long host", {"mqtt": {"host": "a" * 200_000}}, "mqtt.host"),
    (
        "megabyte source",
        {"camera": {"source": "rtsp://x/" + "a" * (MAX_TEXT + 1)}},
        "camera.source",
    ),
    ("site slash", {"device": {"site": "clinic/1"}}, "device.site"),
    ("desk plus", {"device": {"desk": "+"}}, "device.desk"),
    ("desk hash", {"device": {"desk": "desk#1"}}, "device.desk"),
    ("site space", {"device": {"site": "clinic 1"}}, "device.site"),
    ("id wildcard", {"device": {"id": "box/#"}}, "device.id"),
    ("prefix wildcard", {"mqtt": {"topic_prefix": "triage/+"}}, "mqtt.topic_prefix"),
    ("port string", {"mqtt": {"port": "1883x"}}, "mqtt.port"),
    ("table for value", {"mqtt": {"port": {"a": 1}}}, "mqtt.port"),
    ("array for table", {"mqtt": [1, 2]}, "mqtt"),
    ("enabled one", {"thermometer": {"enabled": 1}}, "thermometer.enabled"),
    ("enabled zero", {"camera": {"enabled": 0}}, "camera.enabled"),
    ("enabled text", {"thermometer": {"enabled": "true"}}, "thermometer.enabled"),
    ("tls yes", {"mqtt": {"tls": {"enabled": "yes"}}}, "mqtt.tls.enabled"),
    (
        "skip verify one",
        {"mqtt": {"tls": {"insecure_skip_verify": 1}}},
        "mqtt.tls.insecure_skip_verify",
    ),
    ("ambient float", {"screening": {"ambient_correction": 1.0}}, "screening.ambient_correction"),
    ("loop text", {"camera": {"loop": "false"}}, "camera.loop"),
    # time zones are names, never paths (a region folder was an IsADirectoryError traceback)
    ("tz region", {"device": {"timezone": "Europe"}}, "device.timezone"),
    ("tz america", {"device": {"timezone": "America"}}, "device.timezone"),
    ("tz etc", {"device": {"timezone": "Etc"}}, "device.timezone"),
    ("tz slash", {"device": {"timezone": "Europe/"}}, "device.timezone"),
    ("tz traversal", {"device": {"timezone": "../../etc/passwd"}}, "device.timezone"),
    ("tz absolute", {"device": {"timezone": "/etc/localtime"}}, "device.timezone"),
    ("tz localtime", {"device": {"timezone": "localtime"}}, "device.timezone"),
    ("tz empty", {"device": {"timezone": ""}}, "device.timezone"),
    ("hours overlap", {"clinic": {"mon": ["08:00-12:00", "11:00-13:00"]}}, "clinic.mon"),
    ("hours twice", {"clinic": {"tue": ["08:00-12:00", "08:00-12:00"]}}, "clinic.tue"),
    ("hours inside", {"clinic": {"wed": ["08:00-17:00", "09:00-10:00"]}}, "clinic.wed"),
    ("summary 7", {"reporting": {"summary_interval_s": 7}}, "reporting.summary_interval_s"),
    ("summary big", {"reporting": {"summary_interval_s": 100000}}, "reporting.summary_interval_s"),
    ("summary half", {"reporting": {"summary_interval_s": 0.5}}, "reporting.summary_interval_s"),
    ("health tiny", {"reporting": {"health_interval_s": 0.001}}, "reporting.health_interval_s"),
    ("health day", {"reporting": {"health_interval_s": 86400}}, "reporting.health_interval_s"),
    ("window tiny", {"vision": {"compliance_window_s": 0.01}}, "vision.compliance_window_s"),
    ("state empty", {"runtime": {"state_dir": ""}}, "runtime.state_dir"),
    ("socket empty", {"runtime": {"status_socket": ""}}, "runtime.status_socket"),
    ("socket folder", {"runtime": {"status_socket": "/run/"}}, "runtime.status_socket"),
    ("models empty", {"vision": {"models_dir": " "}}, "vision.models_dir"),
    ("calibration empty", {"screening": {"calibration_file": ""}}, "screening.calibration_file"),
    ("path nul", {"outbox": {"path": "/tmp/a\u0000b"}}, "outbox.path"),
]


def check(tmp_path: Path, doc: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> str:
    f = tmp_path / "c.toml"
    f.write_text(tomli_w.dumps(doc))
    assert main(["config", "check", str(f)]) == EX_CONFIG
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("doc", "field"), [c[1:] for c in BAD_VALUES], ids=[c[0] for c in BAD_VALUES]
)
def test_bad_value_exits_78_naming_the_field(
    tmp_path: Path, doc: dict[str, Any], field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = check(tmp_path, doc, capsys)
    assert f"  {field}" in err, err
    assert "Traceback" not in err
    assert len(err) < 2000, "the message must stay short (values are cut)"


def test_non_utf8_file_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.toml"
    f.write_bytes(b'[device]\nsite = "caf\xe9"\n')
    assert main(["config", "check", str(f)]) == EX_CONFIG
    assert "not UTF-8" in capsys.readouterr().err


def test_deep_nesting_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.toml"
    f.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert main(["config", "check", str(f)]) == EX_CONFIG
    assert "nested too deeply" in capsys.readouterr().err


def test_huge_file_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[mqtt]\nhost = "' + "a" * 2_000_000 + '"\n')
    assert main(["config", "check", str(f)]) == EX_CONFIG
    assert "larger than" in capsys.readouterr().err


def test_fuzzed_values_never_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Random wrong-typed values in every known key: 0 or 78, never a traceback."""
    from agent.cli.configdoc import field_paths

    rng = random.Random(9)
    junk: list[Any] = [
        True,
        -1,
        0,
        2**63,
        1e308,
        -1e308,
        "",
        " ",
        "/",
        "+",
        "#",
        "x" * 5000,
        [1],
        {"a": 1},
        "\u202e\u0000",
        math.nan,
        math.inf,
        3.5,
    ]
    for i, path in enumerate(field_paths()):
        for _ in range(3):
            parts = path.split(".")
            doc: dict[str, Any] = {}
            node = doc
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = rng.choice(junk)
            try:
                parse_config(doc, f"fuzz-{i}", environ={})
            except ConfigError as exc:  # the only exception allowed
                message = str(exc)
                assert path.split(".")[0] in message


def test_tls_files_are_checked_at_load(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    good = {
        "enabled": True,
        "ca_file": str(pki["ca.pem"]),
        "cert_file": str(pki["cli.pem"]),
        "key_file": str(pki["cli.key"]),
    }
    parse_config({"mqtt": {"tls": good}}, environ={})
    with pytest.raises(ConfigError, match=r"mqtt\.tls: ca_file .*No such file"):
        parse_config({"mqtt": {"tls": {**good, "ca_file": str(tmp_path / "nope.pem")}}})
    self_signed_ca("other", tmp_path / "other.key", tmp_path / "other.pem")
    with pytest.raises(ConfigError, match=r"key_file .* does not match the certificate"):
        parse_config({"mqtt": {"tls": {**good, "key_file": str(tmp_path / "other.key")}}})
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"ca_file .*not a PEM CA certificate"):
        parse_config({"mqtt": {"tls": {**good, "ca_file": str(garbage)}}})
    # TLS off: the files are not needed (a config may carry them before TLS is switched on)
    parse_config({"mqtt": {"tls": {**good, "enabled": False, "ca_file": "/nope.pem"}}})


def test_tls_problem_is_exit_78_from_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "c.toml"
    f.write_text(
        tomli_w.dumps({"mqtt": {"tls": {"enabled": True, "ca_file": str(tmp_path / "ca.pem")}}})
    )
    assert main(["run", "--config", str(f)]) == EX_CONFIG
    err = capsys.readouterr().err
    assert "mqtt.tls: ca_file" in err
    assert "Traceback" not in err
