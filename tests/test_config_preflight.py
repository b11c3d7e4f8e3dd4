"""``triage-agent config check``'s preflight (agent/config/preflight.py) refuses what ``run``
refuses, names the field, and points at paths that exist where it runs.

A file can be valid in itself and still name models, a camera source or a calibration file ``run``
cannot use: each such case is refused by ``config check`` (exit 78, the field named) and, checked
against the real process, by ``run`` too. Folders and files of the wrong kind, which ``run`` would
survive degraded, are refused by ``config check``; an unplugged device or a simulated one is a
warning only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from agent.cli.main import main
from agent.config import EX_CONFIG, ConfigError, load_config
from agent.flow import settings
from agent.vision.manifest import ModelError, load_manifest

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"


def valid(tmp: Path) -> dict[str, Any]:
    """A usable file on the simulated devices, state under ``tmp`` (no broker needed to check)."""
    return {
        "device": {"site": "check", "desk": "d1"},
        "mqtt": {"host": "127.0.0.1", "port": 1},
        "thermometer": {"port": "simulated"},
        "camera": {"source": "simulated"},
        "vision": {"models_dir": str(MODELS)},
        "outbox": {"path": str(tmp / "state" / "outbox.sqlite3")},
        "runtime": {
            "state_dir": str(tmp / "state"),
            "status_socket": str(tmp / "run" / "status.sock"),
        },
    }


def merged(base: dict[str, Any], **sections: dict[str, Any]) -> dict[str, Any]:
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return base


def config_check(
    tmp: Path, doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    f = tmp / "config.toml"
    f.write_text(tomli_w.dumps(doc))
    status = main(["config", "check", str(f)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


@pytest.fixture(scope="module")
def damaged_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped models whose mask classifier is truncated (sha256 mismatch)."""
    out = tmp_path_factory.mktemp("models")
    manifest = json.loads((MODELS / "manifest.json").read_text())
    shutil.copy(MODELS / "manifest.json", out / "manifest.json")
    for entry in manifest["models"]:
        shutil.copy(MODELS / entry["file"], out / entry["file"])
    mask = next(e for e in manifest["models"] if e["name"] == "mask-classifier")
    (out / mask["file"]).write_bytes((out / mask["file"]).read_bytes()[:1000])
    return out


def run_refuses(tmp: Path) -> dict[str, dict[str, Any]]:
    """Settings ``run`` exits 78 on (section -> values), by the field they concern."""
    return {
        "vision.models_dir": {"vision": {"models_dir": str(tmp / "no-models")}},
        "vision.face_model": {"vision": {"face_model": "face-detector-v9"}},
        "vision.mask_model": {"vision": {"mask_model": "person-detector"}},  # a person model
        "vision.person_model": {"vision": {"person_model": "nope"}},
        "camera.source": {"camera": {"source": "ftp://camera.local/stream"}},
    }


CASES = [
    "vision.models_dir",
    "vision.face_model",
    "vision.mask_model",
    "vision.person_model",
    "camera.source",
]


def test_a_valid_file_passes_with_warnings_for_simulation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = config_check(tmp_path, valid(tmp_path), capsys)
    assert status == 0, out
    assert "OK (device check-d1" in out
    assert "warning: thermometer.port = 'simulated'" in out
    assert "warning: camera.source = 'simulated'" in out


@pytest.mark.parametrize("field", CASES)
def test_config_check_refuses_what_run_refuses(
    tmp_path: Path, field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = merged(valid(tmp_path), **run_refuses(tmp_path)[field])
    status, out = config_check(tmp_path, doc, capsys)
    assert status == EX_CONFIG, out
    assert f"\n  {field}" in out, out
    assert "Traceback" not in out
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "run", "--config", str(tmp_path / "config.toml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EX_CONFIG, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"{field} = " in proc.stderr, proc.stderr[-2000:]  # run names the field too


def test_a_damaged_model_file_is_named(
    tmp_path: Path, damaged_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = merged(valid(tmp_path), vision={"models_dir": str(damaged_models)})
    status, out = config_check(tmp_path, doc, capsys)
    assert status == EX_CONFIG
    assert "  vision.mask_model = 'mask-classifier': model file" in out
    assert "corrupt or was replaced" in out
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "run", "--config", str(tmp_path / "config.toml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EX_CONFIG, proc.stderr[-2000:]
    assert "\n  vision.mask_model = 'mask-classifier': model file" in proc.stderr  # as check does
    assert "Traceback" not in proc.stderr


def test_models_are_not_checked_without_a_camera(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = merged(valid(tmp_path), camera={"enabled": False}, vision={"models_dir": "/nope"})
    del doc["camera"]["source"]
    status, out = config_check(tmp_path, doc, capsys)
    assert status == 0, out


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("runtime.state_dir", {"runtime": {"state_dir": "{file}"}}),
        ("runtime.state_dir", {"runtime": {"state_dir": "{file}/below"}}),
        ("outbox.path", {"outbox": {"path": "{dir}"}}),
        ("outbox.path", {"outbox": {"path": "{file}/outbox.sqlite3"}}),
        ("runtime.status_socket", {"runtime": {"status_socket": "{dir}"}}),
        ("runtime.status_socket", {"runtime": {"status_socket": "{file}"}}),
        ("vision.integrity.reference_file", {"vision": {"integrity": {"reference_file": "{dir}"}}}),
        ("screening.calibration_file", {"screening": {"calibration_file": "{dir}"}}),
        ("screening.calibration_file", {"screening": {"calibration_file": "/dev/null"}}),
    ],
)
def test_wrong_kinds_of_folders_and_files_are_refused(
    tmp_path: Path, field: str, values: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    a_file, a_dir = tmp_path / "a-file", tmp_path / "a-dir"
    a_file.write_text("x")
    a_dir.mkdir()
    text = json.dumps(values).replace("{file}", str(a_file)).replace("{dir}", str(a_dir))
    doc = valid(tmp_path)
    for section, table in json.loads(text).items():
        for key, value in table.items():
            if isinstance(value, dict):
                doc.setdefault(section, {}).setdefault(key, {}).update(value)
            else:
                doc.setdefault(section, {})[key] = value
    status, out = config_check(tmp_path, doc, capsys)
    assert status == EX_CONFIG, out
    assert f"\n  {field} = " in out, out


def test_unplugged_devices_are_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = merged(
        valid(tmp_path),
        thermometer={"port": "/dev/triage-thermometer-gone"},
        camera={"source": "/dev/video-gone"},
    )
    status, out = config_check(tmp_path, doc, capsys)
    assert status == 0, out
    assert "warning: thermometer.port = '/dev/triage-thermometer-gone' does not exist now" in out
    assert "warning: camera.source = '/dev/video-gone' does not exist now" in out


def test_an_unusable_calibration_file_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The running agent goes on with the last good offset (a degraded state): no refusal."""
    bad = tmp_path / "calibration.json"
    bad.write_text("{not json")
    doc = merged(valid(tmp_path), screening={"calibration_file": str(bad)})
    status, out = config_check(tmp_path, doc, capsys)
    assert status == 0, out
    assert f"warning: screening.calibration_file: calibration file {bad}" in out


def test_an_empty_file_is_refused_not_simulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "config.toml"
    for text in (
        "",
        "# nothing yet\n",
        '[device]\nsite = "c1"\n',
        "[thermometer]\nenabled = true\n",
    ):
        f.write_text(text)
        assert main(["config", "check", str(f)]) == EX_CONFIG
        err = capsys.readouterr().err
        assert "  thermometer.port: not set" in err, err
        assert '"simulated"' in err
    f.write_text("[thermometer]\nenabled = false\n[camera]\nenabled = false\n")
    assert main(["config", "check", str(f)]) == 0, capsys.readouterr().err


def test_byte_order_marks(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    body = tomli_w.dumps(valid(tmp_path))
    f.write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert load_config(f, environ={}).device.site == "check"
    f.write_bytes(b"\xff\xfe" + body.encode("utf-16-le"))
    with pytest.raises(ConfigError, match="UTF-16 .* save it as UTF-8"):
        load_config(f, environ={})


def test_time_zone_advice() -> None:
    from agent.config import parse_config

    with pytest.raises(ConfigError, match="'Europe' is a region, not a time zone; .*'Europe/"):
        parse_config({"device": {"timezone": "Europe"}})
    with pytest.raises(ConfigError, match="did you mean 'UTC'"):
        parse_config({"device": {"timezone": "utc"}})
    with pytest.raises(ConfigError, match=r"the nearest that do: 6 or 8"):
        parse_config({"reporting": {"summary_interval_s": 7}})
    with pytest.raises(ConfigError, match=r"give one range such as '08:00-13:00'"):
        parse_config({"clinic": {"mon": ["11:00-13:00", "08:00-12:00"]}})
    assert parse_config({"clinic": {"mon": ["08:00-12:00", "12:00-17:00"]}}).clinic.mon


def _messages(tmp_path: Path) -> str:
    """The texts that carry a hint: a missing file, an unknown key, a missing model manifest."""
    out = []
    typo = _write(tmp_path / "typo.toml", "[mqtt]\nhots = 1\n")
    for path in (tmp_path / "missing.toml", typo):
        with pytest.raises(ConfigError) as err:
            load_config(path)
        out.append(str(err.value))
    with pytest.raises(ModelError) as missing:
        load_manifest(tmp_path / "no-manifest.json")
    out.append(str(missing.value))
    return "\n".join(out)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_hints_name_paths_of_the_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix, docs = tmp_path / "opt", tmp_path / "usr-share-doc"
    docs.mkdir()
    (docs / "CONFIG.md").write_text("#\n")
    (docs / "config.example.toml").write_text("#\n")
    monkeypatch.setattr(settings, "SOURCE_TREE", tmp_path / "no-checkout")
    monkeypatch.setattr(settings, "DEBIAN_DOC_DIR", docs)
    monkeypatch.setattr(sys, "prefix", str(prefix))
    settings.layout.cache_clear()
    try:
        assert settings.layout() == "installed"
        text = _messages(tmp_path)
    finally:
        settings.layout.cache_clear()
    assert f"{docs}/CONFIG.md" in text
    assert f"{docs}/config.example.toml" in text
    assert f"reinstall the package (the models ship in {prefix}/models)" in text
    for source_only in ("packaging/", "docs/CONFIG.md", "make models"):
        assert source_only not in text, text


def test_hints_name_the_checkout_in_the_source_tree(tmp_path: Path) -> None:
    assert settings.layout() == "source"
    text = _messages(tmp_path)
    assert str(REPO / "docs" / "CONFIG.md") in text
    assert str(REPO / "packaging" / "config.example.toml") in text
    assert "`make models`" in text


def test_hints_name_both_when_unsure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "SOURCE_TREE", tmp_path / "no-checkout")
    monkeypatch.setattr(settings, "DEBIAN_DOC_DIR", tmp_path / "no-debian-docs")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "nowhere"))
    settings.layout.cache_clear()
    try:
        text = _messages(tmp_path)
    finally:
        settings.layout.cache_clear()
    docs = tmp_path / "no-debian-docs"  # /usr/share/doc/triage-agent on a box
    assert f"{docs}/CONFIG.md (in the source tree: docs/CONFIG.md)" in text
    assert "(in the source tree: packaging/config.example.toml)" in text
