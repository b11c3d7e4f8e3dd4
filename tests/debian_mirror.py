"""The Debian mirror this machine's apt uses, and telling "mirror unreachable" from other failures.

Shared by the tests that debootstrap a Debian root (tests/test_packaging_install.py, tests/arm64.py).
The mirror is read from ``/etc/apt/sources.list`` or ``sources.list.d/*.sources`` at run time
(``TRIAGE_DEBIAN_MIRROR`` overrides), never written into the tests.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# What apt and debootstrap print when the mirror cannot be reached (as opposed to any other error).
NETWORK_ERRORS = re.compile(
    r"Failed getting release file|Couldn't download|Failed to fetch|Temporary failure resolving"
    r"|Could not resolve|Could not connect|Unable to connect|Network is unreachable"
    r"|Connection timed out|Connection failed"
)


def mirror(suite: str = SUITE) -> str:
    """The mirror serving ``suite`` main (sources.list or deb822 .sources), if any."""
    env = os.environ.get("TRIAGE_DEBIAN_MIRROR")
    if env:
        return env
    sources = Path("/etc/apt/sources.list")
    if sources.is_file():
        for line in sources.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == suite:
                return parts[1]
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                (k.strip(), v.strip())
                for k, _, v in (ln.partition(":") for ln in stanza.splitlines())
                if not k.startswith("#")
            )
            if (
                suite in fields.get("Suites", "").split()
                and "main" in fields.get("Components", "").split()
            ):
                return fields.get("URIs", DEFAULT_MIRROR).split()[0]
    return DEFAULT_MIRROR


def skip_if_offline(res: subprocess.CompletedProcess[str], what: str) -> None:
    """Skip the test when ``res`` failed because the mirror is unreachable (stdout+stderr merged)."""
    if res.returncode != 0:
        m = NETWORK_ERRORS.search(res.stdout)
        if m:
            pytest.skip(f"network unavailable: {what} cannot reach the mirror ({m.group(0)})")


def run_merged(cmd: Sequence[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run with stdout and stderr merged (keeps the order of apt's and the scripts' lines)."""
    return subprocess.run(
        list(cmd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=timeout,
    )
