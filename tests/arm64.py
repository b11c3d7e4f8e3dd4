"""An emulated arm64 Debian 12 for tests: a cached root file system and the package's Python in it.

The root is made once with ``debootstrap --foreign --arch=arm64 --variant=minbase --include=python3``
from this machine's Debian mirror (tests/debian_mirror.py). The second stage is not run (it would
need binfmt_misc, which containers rarely have): every downloaded package is unpacked with
``dpkg-deb -x`` instead, which is all a single emulated process needs, and the standard library is
byte-compiled (Debian's postinst would do that). It is cached as a folder
``~/.cache/triage-agent/arm64-root-<ROOT_KEY>/`` (``TRIAGE_CACHE`` moves it; delete it, or bump
``ROOT_KEY``, to rebuild).

Programs run as ``qemu-aarch64-static -L ROOT -cpu cortex-a72``: ``-L`` makes the emulated process
see ROOT's files first (its loader, libc, ``/usr/lib/python3.11``), so no chroot and no root
privileges are needed to run; the CPU is a Raspberry Pi 4's. ``TRIAGE_QEMU_AARCH64`` picks another
qemu binary (for example a newer one from Debian trixie/backports).

``ROOT/dev`` is emptied (the process uses the host's devices: ptys for the simulated thermometer).

``ROOT/proc/cpuinfo``: qemu 7.2 (Debian 12) passes the *host's* x86 ``/proc/cpuinfo`` through to
the emulated process, and onnxruntime >= 1.28 segfaults at import after parsing it (its CPU probe,
on pytorch/cpuinfo, finds no ARM processor). qemu 10.0 emulates the file; for 7.2, ``-L`` serves
``ROOT/proc/cpuinfo`` instead of the host's, so the root carries a Raspberry Pi 4's (Cortex-A72,
one entry per host CPU). See docs/PERFORMANCE.md, section "arm64".
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests import debian_mirror
from tests.debian_mirror import run_merged

ROOT_KEY = f"{debian_mirror.SUITE}-minbase-python3-v2"  # bump when the recipe below changes
PYTHON = "/usr/bin/python3.11"
QEMU_CPU = "cortex-a72"  # Raspberry Pi 4 Model B

# /proc/cpuinfo of a Raspberry Pi 4 (Raspberry Pi OS 64-bit), per processor.
PI4_CPUINFO_ENTRY = """\
processor\t: {n}
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

"""
PI4_CPUINFO_TAIL = (
    "Hardware\t: BCM2835\nRevision\t: c03112\nModel\t\t: Raspberry Pi 4 Model B Rev 1.2\n"
)


def cache_dir() -> Path:
    env = os.environ.get("TRIAGE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "triage-agent"


def qemu() -> str:
    """The qemu user-mode emulator (``make sysdeps`` installs Debian's qemu-user-static)."""
    binary = os.environ.get("TRIAGE_QEMU_AARCH64") or shutil.which("qemu-aarch64-static")
    assert binary, "qemu-aarch64-static is not installed: `make sysdeps` installs qemu-user-static"
    return binary


def root() -> Path:
    """The cached arm64 root (built on first use: needs root privileges and the mirror)."""
    final = cache_dir() / f"arm64-root-{ROOT_KEY}"
    if not (final / PYTHON.lstrip("/")).is_file():
        _bootstrap(final)
    _host_devices(final)
    _write_cpuinfo(final)
    return final


def _bootstrap(final: Path) -> None:
    debootstrap = shutil.which("debootstrap")
    assert debootstrap, "debootstrap is not installed: `make sysdeps` installs it"
    if os.geteuid() != 0:
        pytest.skip(f"making the arm64 root {final} needs root (debootstrap); run once as root")
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="arm64-root.", dir=final.parent))
    try:
        mirror = debian_mirror.mirror()
        res = run_merged(
            [debootstrap, "--foreign", "--arch=arm64", "--variant=minbase", "--include=python3",
             debian_mirror.SUITE, str(work), mirror],
            timeout=1800,
        )  # fmt: skip
        debian_mirror.skip_if_offline(res, f"debootstrap --foreign --arch=arm64 ({mirror})")
        assert res.returncode == 0, "debootstrap failed:\n" + res.stdout[-3000:]
        # The first stage unpacks only the essential packages; unpack the rest (python3 & co.).
        archives = work / "var" / "cache" / "apt" / "archives"
        for deb in sorted(archives.glob("*.deb")):
            res = run_merged(["dpkg-deb", "-x", str(deb), str(work)], timeout=300)
            assert res.returncode == 0, f"dpkg-deb -x {deb.name}: {res.stdout}"
            deb.unlink()
        assert (work / PYTHON.lstrip("/")).is_file(), "python3.11 missing from the arm64 root"
        # Debian byte-compiles the stdlib in postinst (second stage); do it here, with arm64 Python.
        # Under -L, bytecode for files not already in ROOT would land in the host's folders, so the
        # emulated processes run with PYTHONDONTWRITEBYTECODE and need these.
        _write_cpuinfo(work)
        stdlib = work / "usr" / "lib" / "python3.11"
        res = run_merged(
            [qemu(), "-L", str(work), "-cpu", QEMU_CPU, str(work / PYTHON.lstrip("/")),
             "-m", "compileall", "-q", "-j", "0", str(stdlib)],
            timeout=900,
        )  # fmt: skip
        assert res.returncode == 0, "compileall of the arm64 stdlib failed:\n" + res.stdout[-3000:]
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    finally:
        if work.exists():
            shutil.rmtree(work)


def _host_devices(rootdir: Path) -> None:
    """Empty ROOT/dev: under ``-L`` the emulated process must open the host's devices (a pty from
    the host's /dev/ptmx, not debootstrap's device node, which fails with ENODEV)."""
    for p in (rootdir / "dev").iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def _write_cpuinfo(rootdir: Path) -> None:
    n = os.cpu_count() or 1
    text = "".join(PI4_CPUINFO_ENTRY.format(n=i) for i in range(n)) + PI4_CPUINFO_TAIL
    path = rootdir / "proc" / "cpuinfo"
    path.parent.mkdir(exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def python_cmd(rootdir: Path, venv: Path, *args: str) -> list[str]:
    """The command line running the environment ``venv``'s Python (arm64) with ``args``.

    ``-0`` gives Python its venv's path as argv[0], so it finds ``venv/pyvenv.cfg`` exactly as
    ``/opt/triage-agent/bin/python3`` does on the device, while qemu loads ROOT's interpreter.
    """
    return [
        qemu(), "-L", str(rootdir), "-cpu", QEMU_CPU,
        "-0", str(venv / "bin" / "python3"), str(rootdir / PYTHON.lstrip("/")), *args,
    ]  # fmt: skip


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for the emulated process (nothing from the test's own venv)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra or {})
    return env
