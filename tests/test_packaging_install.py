"""Install the Debian package for real into a throwaway Debian 12 root and purge it again.

Slow and root-only. ``debootstrap --variant=minbase bookworm`` makes the root once; it is cached as a
tarball in ``~/.cache/triage-agent-test/`` (``TRIAGE_TEST_CACHE`` overrides), so later runs only
unpack it. Inside the root (``chroot``, with /proc mounted) ``apt-get install /tmp/<deb>`` resolves
the Depends from the mirror and runs the maintainer scripts. Without a reachable mirror the tests
skip ("network unavailable"); every other problem fails. See docs/PACKAGING.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import debian_mirror
from tests.debian_mirror import SUITE, run_merged, skip_if_offline

pytestmark = pytest.mark.slow

UNIT_LINK = "etc/systemd/system/multi-user.target.wants/triage-agent.service"
CHROOT_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "DEBIAN_FRONTEND": "noninteractive",
    "LC_ALL": "C.UTF-8",
    "HOME": "/root",
}
APT = ["apt-get", "-y", "-o", "Dpkg::Use-Pty=0"]


def _cache_dir() -> Path:
    env = os.environ.get("TRIAGE_TEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "triage-agent-test"


def _debootstrap() -> str:
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").is_file() else None
    )
    assert found, "debootstrap is missing: `make test` installs it (APT_PACKAGES in the Makefile)"
    return found


def _bootstrapped_tarball(work: Path) -> Path:
    """``~/.cache/triage-agent-test/bookworm-minbase-<arch>.tar.gz``; made by debootstrap once."""
    arch = run_merged(["dpkg", "--print-architecture"]).stdout.strip()
    tarball = _cache_dir() / f"{SUITE}-minbase-{arch}.tar.gz"
    if tarball.is_file():
        return tarball
    debootstrap = _debootstrap()
    root = work / "bootstrap"
    mirror = debian_mirror.mirror()
    res = run_merged([debootstrap, "--variant=minbase", SUITE, str(root), mirror], timeout=1800)
    skip_if_offline(res, f"debootstrap ({mirror})")
    assert res.returncode == 0, "debootstrap failed:\n" + res.stdout[-3000:]
    run_merged(["chroot", str(root), "apt-get", "clean"])
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".partial")
    # tar(1), not tarfile: device nodes, owners and hard links of a root file system.
    res = run_merged(["tar", "-C", str(root), "--numeric-owner", "-czf", str(partial), "."])
    assert res.returncode == 0, res.stdout
    partial.rename(tarball)
    shutil.rmtree(root)
    return tarball


def _chroot(root: Path, *cmd: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    spec = [f"--userspec={user}:{user}", f"--groups={user}"] if user else []
    return run_merged(["chroot", *spec, str(root), "env", "-i", *_env_args(), *cmd])


def _env_args() -> list[str]:
    return [f"{k}={v}" for k, v in CHROOT_ENV.items()]


def _ok(root: Path, *cmd: str, user: str | None = None) -> str:
    res = _chroot(root, *cmd, user=user)
    assert res.returncode == 0, f"{' '.join(cmd)} -> {res.returncode}:\n{res.stdout[-3000:]}"
    return res.stdout


def _stat(root: Path, path: str) -> str:
    """Mode, owner and group as the root's own passwd/group files name them."""
    return _ok(root, "stat", "-c", "%a %U %G", path).strip()


def _script_output(apt_output: str) -> list[str]:
    """The lines triage-agent's maintainer scripts printed during `Setting up triage-agent`."""
    lines = apt_output.splitlines()
    start = next(
        (i for i, ln in enumerate(lines) if ln.startswith("Setting up triage-agent ")), None
    )
    assert start is not None, apt_output[-3000:]
    out = []
    for ln in lines[start + 1 :]:
        if ln.startswith(("Setting up ", "Processing triggers", "Selecting ", "(Reading")):
            break
        out.append(ln)
    return out


@pytest.fixture(scope="module")
def chroot_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh Debian 12 minbase root with /proc mounted; removed again afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, mount, debootstrap)")
    if shutil.which("chroot") is None or shutil.which("dpkg") is None:
        pytest.skip("needs chroot and dpkg (a Debian host)")
    work = tmp_path_factory.mktemp("chroot")
    tarball = _bootstrapped_tarball(work)
    root = work / "root"
    root.mkdir()
    res = run_merged(["tar", "-C", str(root), "--numeric-owner", "-xzf", str(tarball)])
    assert res.returncode == 0, res.stdout
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf", follow_symlinks=True)
    proc = root / "proc"
    subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)
    try:
        res = _chroot(root, "apt-get", "update", "-q", "--error-on=any")
        skip_if_offline(res, "apt-get update in the chroot")
        assert res.returncode == 0, res.stdout[-3000:]
        yield root
    finally:
        subprocess.run(["umount", str(proc)], check=False)
        if os.path.ismount(proc):
            subprocess.run(["umount", "-l", str(proc)], check=False)
    if not os.path.ismount(proc):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def system(chroot_root: Path, deb: Path) -> tuple[Path, str, str]:
    """(root, path of the .deb inside it, apt-get install output) after a real install."""
    inside = f"/tmp/{deb.name}"
    shutil.copy(deb, chroot_root / inside.lstrip("/"))
    res = _chroot(chroot_root, *APT, "install", inside)
    skip_if_offline(res, "apt-get install (Depends from the mirror)")
    assert res.returncode == 0, "apt-get install failed:\n" + res.stdout[-5000:]
    return chroot_root, inside, res.stdout


def test_install_ran_the_maintainer_scripts_cleanly(system: tuple[Path, str, str]) -> None:
    root, _, output = system
    assert "dpkg: error" not in output
    assert "returned error exit status" not in output
    status = _ok(root, "dpkg-query", "-W", "-f", "${Status}", "triage-agent")
    assert status == "install ok installed"
    # postinst prints nothing but deb-systemd-helper's "Created symlink" (no adduser warnings).
    noise = [ln for ln in _script_output(output) if not ln.startswith("Created symlink")]
    assert noise == [], noise
    # apt resolved the Depends from the mirror: they were not in the minbase root.
    for dep in ("python3", "udev", "adduser", "libsystemd0"):
        assert _ok(root, "dpkg-query", "-W", "-f", "${Status}", dep) == "install ok installed"


def test_system_user_and_groups(system: tuple[Path, str, str]) -> None:
    root, _, _ = system
    passwd = _ok(root, "getent", "passwd", "triage-agent").strip().split(":")
    assert passwd[5] == "/var/lib/triage-agent"
    assert passwd[6] in {"/usr/sbin/nologin", "/bin/false"}
    assert int(passwd[2]) < 1000, "a system user"
    groups = set(_ok(root, "id", "-nG", "triage-agent").split())
    assert {"triage-agent", "dialout", "video"} <= groups


def test_config_is_private_to_root_and_the_service(system: tuple[Path, str, str]) -> None:
    root, _, _ = system
    assert _stat(root, "/etc/triage-agent/config.toml") == "640 root triage-agent"
    assert _stat(root, "/etc/triage-agent") == "750 root triage-agent"
    assert _ok(root, "dpkg-query", "-W", "-f", "${Conffiles}", "triage-agent").split()[0] == (
        "/etc/triage-agent/config.toml"
    )


def test_unit_is_enabled(system: tuple[Path, str, str]) -> None:
    root, _, _ = system
    link = root / UNIT_LINK
    assert link.is_symlink(), "postinst did not enable the unit"
    assert os.readlink(link) == "/lib/systemd/system/triage-agent.service"
    assert (root / "lib/systemd/system/triage-agent.service").is_file()
    assert (root / "lib/udev/rules.d/99-triage-thermometer.rules").is_file()


def test_state_directory(system: tuple[Path, str, str]) -> None:
    root, _, _ = system
    # Created by postinst (it is the user's home) with what StateDirectory= would give it.
    assert _stat(root, "/var/lib/triage-agent") == "750 triage-agent triage-agent"
    # /run/triage-agent belongs to systemd (RuntimeDirectory=); the package does not ship it.
    assert "/run/triage-agent" not in _ok(root, "dpkg", "-L", "triage-agent")


def test_bytecode_is_compiled_at_install(system: tuple[Path, str, str]) -> None:
    """Before anything ran the CLI: postinst compiled the bytecode the read-only service needs."""
    root, _, _ = system
    compiled = list(
        (root / "opt/triage-agent/lib").glob("python3*/site-packages/agent/service/__pycache__")
    )
    assert compiled, "postinst did not byte-compile /opt/triage-agent"
    assert list(compiled[0].glob("pipeline.*.pyc"))


def test_cli_runs_inside_the_root(system: tuple[Path, str, str]) -> None:
    root, _, _ = system
    out = _ok(root, "/opt/triage-agent/bin/triage-agent", "version")
    assert out.startswith("triage-agent "), out
    assert _ok(root, "triage-agent", "version") == out  # through /usr/bin/triage-agent
    out = _ok(root, "triage-agent", "config", "check", "/etc/triage-agent/config.toml")
    assert "OK" in out, out
    # The service user can read its config (group triage-agent), as systemd will run it.
    out = _ok(
        root,
        "/opt/triage-agent/bin/triage-agent",
        "config",
        "check",
        "/etc/triage-agent/config.toml",
        user="triage-agent",
    )
    assert "OK" in out, out


def test_reinstall_keeps_local_choices(system: tuple[Path, str, str]) -> None:
    """An upgrade-like reinstall keeps an edited conffile and a disabled unit, and stays quiet."""
    root, inside, _ = system
    config = root / "etc/triage-agent/config.toml"
    config.write_text(config.read_text() + "\n# edited by the technician\n")
    _ok(root, "systemctl", "disable", "triage-agent.service")
    assert not (root / UNIT_LINK).is_symlink()
    try:
        res = _chroot(
            root, *APT, "install", "--reinstall", "-o", "Dpkg::Options::=--force-confold", inside
        )
        assert res.returncode == 0, res.stdout[-5000:]
        noise = [ln for ln in _script_output(res.stdout) if "already a member" not in ln]
        assert noise == [], noise
        assert not (root / UNIT_LINK).is_symlink(), "postinst re-enabled a disabled unit"
        assert "# edited by the technician" in config.read_text()
        assert _stat(root, "/etc/triage-agent/config.toml") == "640 root triage-agent"
    finally:
        _ok(root, "systemctl", "enable", "triage-agent.service")


def test_purge_removes_the_package_and_its_state(system: tuple[Path, str, str]) -> None:
    """Last: purge. State and config go (postrm), the enablement goes, the user stays."""
    root, _, _ = system
    for name in ("outbox.sqlite3", "calibration.json"):
        _ok(root, "touch", f"/var/lib/triage-agent/{name}", user="triage-agent")
    # The CLI run as root leaves __pycache__ under /opt, which dpkg does not know (prerm removes it).
    _ok(root, "triage-agent", "version")
    assert list((root / "opt/triage-agent").rglob("__pycache__")), "precondition: bytecode written"
    res = _chroot(root, *APT, "purge", "triage-agent")
    assert res.returncode == 0, res.stdout[-5000:]
    assert "dpkg: error" not in res.stdout
    assert "dpkg: warning" not in res.stdout, res.stdout[-5000:]
    assert "triage-agent" not in _ok(root, "dpkg-query", "-W", "-f", "${Package} ${Status}\n")
    for gone in (
        "var/lib/triage-agent",
        "etc/triage-agent",
        "opt/triage-agent",
        "usr/bin/triage-agent",
        "lib/systemd/system/triage-agent.service",
        UNIT_LINK,
        "etc/systemd/system/triage-agent.service",  # the mask set by postrm remove
        "var/lib/systemd/deb-systemd-helper-enabled/triage-agent.service.dsh-also",
    ):
        assert not os.path.lexists(root / gone), gone
    # Debian practice: the system user and group stay (files it owned may remain elsewhere).
    _ok(root, "getent", "passwd", "triage-agent")
    _ok(root, "getent", "group", "triage-agent")
