"""What ``run`` would refuse beyond the file's own rules, for ``triage-agent config check``.

A file can be valid TOML with every value in range and still name things ``run`` cannot use. Each is
checked here the way ``run`` uses it, and each problem names its field:

- ``vision.models_dir`` and ``vision.face_model`` / ``mask_model`` / ``person_model`` (camera
  enabled): the folder, its manifest, each name in it, the file and its sha256, the task, and the
  model loaded into onnxruntime exactly as ``run`` loads it (``run`` exits 78 on any of these);
- ``camera.source``: the kind of source (an unsupported URL scheme makes ``run`` exit 78);
- folders and files that are the wrong kind of thing (``run`` would start degraded, or never be
  able to write there): ``runtime.state_dir`` not a folder, ``outbox.path``,
  ``screening.calibration_file`` or ``vision.integrity.reference_file`` a folder or a device,
  ``runtime.status_socket`` a folder or a plain file where the socket goes, a parent that is a file.

What may legitimately be absent when the check runs (an unplugged camera or thermometer, a state
folder the package or systemd creates) gives a warning, not a refusal; so does what this user may not
read (the service runs as ``triage-agent``) and a calibration file that cannot be used (the running
agent treats it as a degraded state and goes on with the last good offset).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from agent.config import AgentConfig, ConfigError
from agent.flow.settings import models_advice, where
from agent.thermometer.calibration import calibration_path, load_calibration
from agent.vision.capture.frames import parse_source
from agent.vision.config import VisionConfig
from agent.vision.inference import families
from agent.vision.manifest import ModelError, ModelSpec, load_manifest, resolve

__all__ = ["Findings", "check_ready", "model_refusal", "preflight"]


@dataclass
class Findings:
    """Problems (``run`` would refuse or misbehave: exit 78) and warnings (worth a look)."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _kind(path: Path) -> str:
    """``"missing"``, ``"dir"``, ``"file"``, ``"socket"``, ``"device"``, ``"other"`` or
    ``"denied"`` (this user may not look)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "missing"
    except NotADirectoryError:
        return "under-file"
    except PermissionError:
        return "denied"
    except OSError:
        return "other"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is not a folder (nothing can be created
    below it), else None."""
    for parent in path.absolute().parents:
        kind = _kind(parent)
        if kind in ("missing", "under-file"):
            continue
        return None if kind in ("dir", "denied") else parent
    return None


def _folder(f: Findings, name: str, path: Path) -> None:
    kind = _kind(path)
    if kind == "dir":
        return
    if kind == "denied":
        f.warnings.append(f"{name} = '{path}': this user may not look into it; check with sudo")
    elif kind in ("missing", "under-file"):
        blocker = _file_in_the_way(path)
        if blocker is not None:
            f.problems.append(f"{name} = '{path}': {blocker} is a file, so the folder cannot exist")
        else:
            f.warnings.append(
                f"{name} = '{path}' does not exist yet; the agent's user must be able to create it"
            )
    else:
        f.problems.append(f"{name} = '{path}' exists and is not a folder; give a folder's path")


def _file(f: Findings, name: str, path: Path, allowed: tuple[str, ...], what: str) -> None:
    kind = _kind(path)
    if kind in ("missing", "denied", "under-file"):
        blocker = _file_in_the_way(path)
        if blocker is not None:
            f.problems.append(f"{name} = '{path}': {blocker} is a file, not a folder")
        return
    if kind not in allowed:
        shown = "a folder" if kind == "dir" else f"a {kind}"
        f.problems.append(f"{name} = '{path}' is {shown}; give the path of {what}")


ModelMaker = Callable[[ModelSpec, Path, int], object]


@cache
def _model_verdict(
    models_dir: Path, name: str, role: str, threads: int, stamp: tuple[int, ...]
) -> str | None:
    """None when ``name`` loads as ``run`` loads it, else why not (cached per file state)."""
    makers: dict[str, ModelMaker] = {
        "face": families.make_face_detector,
        "mask": families.make_mask_classifier,
        "person": families.make_person_detector,
    }
    try:
        spec, path = resolve(models_dir, name)
        makers[role](spec, path, threads)
    except ModelError as exc:
        return str(exc)
    except Exception as exc:  # whatever onnxruntime raises becomes a technician's message
        return f"cannot be loaded ({type(exc).__name__}: {exc}); {models_advice()}"
    return None


def _stamp(models_dir: Path) -> tuple[int, ...]:
    """What changes when the manifest or a model file changes (the cache key)."""
    out: list[int] = []
    try:
        for entry in sorted(os.scandir(models_dir), key=lambda e: e.name):
            if entry.name == "manifest.json" or entry.name.endswith(".onnx"):
                st = entry.stat()
                out += [st.st_mtime_ns, st.st_size, st.st_ino]
    except OSError:
        pass
    return tuple(out)


def _models(f: Findings, vision: VisionConfig) -> None:
    models_dir = vision.models_dir
    rel = "" if models_dir.is_absolute() else f" (relative to the working directory {Path.cwd()})"
    kind = _kind(models_dir)
    if kind != "dir":
        why = "is not a folder" if kind not in ("missing", "under-file") else "does not exist"
        if kind == "denied":
            why = "cannot be read by this user"
        f.problems.append(
            f"vision.models_dir = '{models_dir}' {why}{rel}; give the folder holding "
            f"manifest.json (/opt/triage-agent/models on a box), or {models_advice()}"
        )
        return
    try:
        load_manifest(models_dir / "manifest.json")
    except ModelError as exc:
        f.problems.append(f"vision.models_dir = '{models_dir}': {exc}")
        return
    stamp = _stamp(models_dir)
    roles = [("face_model", vision.face_model, "face"), ("mask_model", vision.mask_model, "mask")]
    if vision.person_model is not None:
        roles.append(("person_model", vision.person_model, "person"))
    for name, model, role in roles:
        verdict = _model_verdict(models_dir.absolute(), model, role, vision.threads, stamp)
        if verdict is not None:
            f.problems.append(f"vision.{name} = {model!r}: {verdict}")


def _camera_source(f: Findings, cfg: AgentConfig) -> None:
    try:
        spec = parse_source(cfg.camera.source)
    except ConfigError as exc:
        f.problems.append(str(exc))
        return
    target = Path(spec.target)
    if spec.kind in ("device", "file") and target.is_absolute() and _kind(target) == "missing":
        f.warnings.append(
            f"camera.source = '{target}' does not exist now (camera unplugged or file not copied "
            "yet?): `run` starts and waits for it"
        )
    scenes = cfg.camera.simulated_scenes_dir
    if spec.kind == "simulated" and scenes is not None and _kind(scenes) != "dir":
        f.warnings.append(
            f"camera.simulated_scenes_dir = '{scenes}' is not a folder: the simulated camera "
            "renders synthetic frames"
        )


def _camera(f: Findings, cfg: AgentConfig) -> None:
    _camera_source(f, cfg)
    _models(f, cfg.vision)
    ref = cfg.vision.integrity.reference_file
    if ref is not None:
        _file(f, "vision.integrity.reference_file", ref, ("file",), "a file")


def _thermometer(f: Findings, cfg: AgentConfig) -> None:
    port = cfg.thermometer.port
    if port.startswith("/") and _kind(Path(port)) == "missing":
        f.warnings.append(
            f"thermometer.port = '{port}' does not exist now (thermometer unplugged?): `run` "
            "starts and waits for it"
        )
    explicit = cfg.screening.calibration_file
    if explicit is not None:  # a folder or a device there can never hold a calibration
        _file(f, "screening.calibration_file", explicit, ("file",), "the calibration file")
    path = calibration_path(cfg.screening, cfg.runtime.state_dir)
    if _kind(path) != "file":
        return
    try:
        load_calibration(path)
    except ConfigError as exc:  # the agent runs on: a degraded state, not a refusal
        name = "screening.calibration_file" if explicit is not None else "runtime.state_dir"
        f.warnings.append(
            f"{name}: {exc} (the agent screens with the last good offset, "
            "screening.site_offset_c at start, until it is fixed)"
        )


def preflight(cfg: AgentConfig) -> Findings:
    """Everything ``run`` would refuse or misuse in a valid config, as problem and warning lines."""
    f = Findings()
    _folder(f, "runtime.state_dir", cfg.runtime.state_dir)
    _file(f, "outbox.path", cfg.outbox.path, ("file",), "the SQLite file")
    _file(f, "runtime.status_socket", cfg.runtime.status_socket, ("socket",), "the socket")
    if cfg.thermometer.enabled:
        _thermometer(f, cfg)
    if cfg.camera.enabled:
        _camera(f, cfg)
    return f


def check_ready(cfg: AgentConfig, source: str) -> list[str]:
    """Warnings for a config ``run`` can use; ConfigError naming every field it cannot."""
    found = preflight(cfg)
    if found.problems:
        lines = [f"invalid configuration in {source}:"]
        lines += [f"  {p}" for p in found.problems]
        lines.append(f"fix the field(s) above; every key is documented in {where('config-doc')}")
        raise ConfigError("\n".join(lines))
    return found.warnings


def model_refusal(cfg: AgentConfig, exc: Exception) -> str:
    """``run``'s refusal when the models cannot be loaded (exit 78): the field(s) to fix, found as
    ``config check`` finds them; the loader's own words under ``vision.models_dir`` when no single
    field can be named."""
    f = Findings()
    _models(f, cfg.vision)
    named = f.problems or [f"vision.models_dir = '{cfg.vision.models_dir}': {exc}"]
    lines = ["invalid configuration: the camera's models cannot be loaded:"]
    lines += [f"  {p}" for p in named]
    lines.append(f"fix the field(s) above; every key is documented in {where('config-doc')}")
    return "\n".join(lines)
