"""Build the Debian package once per test session (shared by the packaging tests).

``TRIAGE_DEB=path/to.deb`` reuses a package instead of building one (``make deb`` takes minutes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def build_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package: ``$TRIAGE_DEB`` or a fresh ``packaging/build_deb.sh`` build in a temp dir."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb not installed (apt dpkg)")
    prebuilt = os.environ.get("TRIAGE_DEB")
    if prebuilt:
        return Path(prebuilt)
    out = tmp_path_factory.mktemp("dist")
    res = subprocess.run(
        [str(REPO / "packaging" / "build_deb.sh"), str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return Path(res.stdout.strip().splitlines()[-1])
