"""Build the Debian package once per test session (shared by the packaging tests).

``make test`` builds the package before pytest starts (``make test-deb``, its own time budget) and
passes it in ``TRIAGE_DEB``, so the build never counts against a test's timeout. Run directly,
pytest builds it here once per session; the tests that use it allow for that in their timeout.
The arm64 package of tests/test_arm64.py likewise: ``TRIAGE_DEB_ARM64`` (``make test-deb-arm64``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BUILD_TIMEOUT_S = 1800
"""A test that may build the package itself allows this much on top of its own timeout."""

REPO = Path(__file__).resolve().parent.parent


def prebuilt_env(arch: str | None = None) -> str:
    """The environment variable naming a prebuilt package: TRIAGE_DEB, TRIAGE_DEB_ARM64, ..."""
    return "TRIAGE_DEB" if arch is None else f"TRIAGE_DEB_{arch.upper()}"


def build_deb(tmp_path_factory: pytest.TempPathFactory, arch: str | None = None) -> Path:
    """The package: ``$TRIAGE_DEB[_ARM64]`` or a fresh ``packaging/build_deb.sh`` build.

    ``arch`` None is this machine's architecture; another one is cross-built (``DEB_ARCH``).
    """
    assert shutil.which("dpkg-deb"), "dpkg-deb is missing (Debian's dpkg package)"
    prebuilt = os.environ.get(prebuilt_env(arch))
    if prebuilt:
        path = Path(prebuilt)
        assert path.is_file(), f"{prebuilt_env(arch)}={prebuilt} does not exist"
        return path
    out = tmp_path_factory.mktemp("dist")
    res = subprocess.run(
        [str(REPO / "packaging" / "build_deb.sh"), str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=BUILD_TIMEOUT_S,
        env={**os.environ, "DEB_ARCH": arch} if arch else None,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return Path(res.stdout.strip().splitlines()[-1])
