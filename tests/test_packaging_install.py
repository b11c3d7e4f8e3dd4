"""Install the Debian package for real into a throwaway Debian 12 root and purge it again.

Slow and root-only. ``debootstrap --variant=minbase bookworm`` makes the root once; it is cached as a
tarball in ``~/.cache/triage-agent-test/`` (``TRIAGE_TEST_CACHE`` overrides), so later runs only
unpack it. Inside the root (``chroot``, with /proc mounted) ``apt-get install /tmp/<deb>`` resolves
the Depends from the mirror and runs the maintainer scripts. Without a reachable mirror the tests
skip ("network unavailable"); every other problem fails. See docs/PACKAGING.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.thermometer.simulated_port import emulator
from firmware_bridge.trace import Trace, generate
from tests import debian_mirror
from tests.broker import Broker, Collector
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
TECHNICIAN_DOCS = ("OPERATIONS.md", "CONFIG.md", "ZONES.md", "SCREENING.md", "RELIABILITY.md")


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


def test_technician_docs_are_installed(system: tuple[Path, str, str]) -> None:
    """The documents a technician needs are on the box, where OPERATIONS.md says they are."""
    root, _, _ = system
    listed = _ok(root, "dpkg", "-L", "triage-agent").split()
    for doc in TECHNICIAN_DOCS:
        path = f"/usr/share/doc/triage-agent/{doc}"
        assert path in listed, path
        assert _stat(root, path) == "644 root root"
    operations = (root / "usr/share/doc/triage-agent/OPERATIONS.md").read_text()
    assert "/usr/share/doc/triage-agent/" in operations


# -- calibration on the installed box, as docs/OPERATIONS.md says to do it ------------------------
SERVICE_LOG = "triage-agent-service.log"


class InstalledService:
    """The installed agent started the way its systemd unit starts it: ``ExecStart`` as
    ``User=``/``Group=`` with ``SupplementaryGroups=``, ``UMask=``, ``Environment=`` and the
    ``RuntimeDirectory=`` systemd would make, all read from the installed unit. (No systemd runs in
    the root: its sandboxing, watchdog and restart policy are not exercised here.)"""

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self.log = log
        unit = (root / "lib/systemd/system/triage-agent.service").read_text()
        self.settings: dict[str, list[str]] = {}
        for line in unit.splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                self.settings.setdefault(key.strip(), []).append(value.strip())
        self.proc: subprocess.Popen[bytes] | None = None

    def one(self, key: str) -> str:
        return self.settings[key][-1]

    def start(self) -> None:
        user, group = self.one("User"), self.one("Group")
        groups = [group, *" ".join(self.settings["SupplementaryGroups"]).split()]
        run_dir = f"/run/{self.one('RuntimeDirectory')}"
        _ok(
            self.root,
            "install",
            "-d",
            "-m",
            self.one("RuntimeDirectoryMode"),
            "-o",
            user,
            "-g",
            group,
            run_dir,
        )
        env = dict(CHROOT_ENV)
        for assignment in self.settings.get("Environment", []):
            k, _, v = assignment.partition("=")
            env[k] = v
        script = f"umask {self.one('UMask')}; exec {self.one('ExecStart')}"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    "chroot",
                    f"--userspec={user}:{group}",
                    f"--groups={','.join(groups)}",
                    str(self.root),
                    "env",
                    "-i",
                    *(f"{k}={v}" for k, v in env.items()),
                    "sh",
                    "-c",
                    script,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> int:
        """SIGTERM, as systemctl stop does; the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _as_technician(root: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    """A command as the technician of OPERATIONS.md section 1 step 4 (in group triage-agent)."""
    return run_merged(
        [
            "chroot",
            "--userspec=tech:tech",
            "--groups=tech,triage-agent",
            str(root),
            "env",
            "-i",
            *_env_args(),
            "HOME=/home/tech",
            *cmd,
        ]
    )


def _wait_status(root: Path, service: InstalledService, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        assert service.running(), "the agent exited:\n" + service.log.read_text()[-3000:]
        res = _as_technician(root, "triage-agent", "status")
        if res.returncode == 0:
            return res.stdout
        assert time.monotonic() < deadline, res.stdout + service.log.read_text()[-3000:]
        time.sleep(0.5)


def _live_calibration(root: Path) -> dict[str, object]:
    res = _as_technician(root, "triage-agent", "status", "--json")
    assert res.returncode == 0, res.stdout
    cal: dict[str, object] = json.loads(res.stdout)["calibration"]
    return cal


@pytest.fixture
def desk(system: tuple[Path, str, str], tmp_path: Path) -> Iterator[tuple[Path, Trace, Broker]]:
    """The installed box wired to a thermometer and a broker, technician account made.

    The thermometer is the firmware emulator on a pty of this machine, seen inside the root at
    ``/dev/triage-thermometer`` (what the udev rule names a real one) with the mode udev gives a
    USB serial port (0660 root:dialout); the broker is a private mosquitto on this machine's
    loopback (the root shares the network). The config is edited as OPERATIONS.md section 2 says.
    """
    root, _, _ = system
    broker = Broker(tmp_path).start()
    trace = generate("normal", seed=6)  # one person every ~11 s, the same each time
    emu = emulator("bridge", trace, loop=True)
    pty = emu.start()
    pts = root / "dev/pts"
    pts.mkdir(exist_ok=True)
    subprocess.run(["mount", "--bind", "/dev/pts", str(pts)], check=True)
    link = root / "dev/triage-thermometer"
    config = root / "etc/triage-agent/config.toml"
    original = config.read_text()
    try:
        dialout = int(_ok(root, "getent", "group", "dialout").split(":")[2])
        os.chown(pty, 0, dialout)
        os.chmod(pty, 0o660)
        link.unlink(missing_ok=True)
        link.symlink_to(pty)
        edited = original.replace("port = 1883", f"port = {broker.port}")
        edited = edited.replace("[camera]\nenabled = true", "[camera]\nenabled = false")
        assert edited.count(str(broker.port)) == 1
        assert "enabled = false" in edited
        config.write_text(edited)
        _ok(root, "triage-agent", "config", "check")
        if _chroot(root, "getent", "passwd", "tech").returncode != 0:
            _ok(root, "adduser", "--disabled-password", "--gecos", "", "tech")
        _ok(root, "adduser", "tech", "triage-agent")  # OPERATIONS.md section 1, step 4
        yield root, trace, broker
    finally:
        config.write_text(original)
        link.unlink(missing_ok=True)
        subprocess.run(["umount", str(pts)], check=False)
        if os.path.ismount(pts):
            subprocess.run(["umount", "-l", str(pts)], check=False)
        emu.stop()
        broker.stop()
        for name in ("calibration.json",):
            (root / "var/lib/triage-agent" / name).unlink(missing_ok=True)
        shutil.rmtree(root / "run/triage-agent", ignore_errors=True)


def _temperature_after(col: Collector, seen: int, timeout: float = 40) -> dict[str, object]:
    col.wait_for(lambda _: len(col.kinds("temperature")) > seen, timeout=timeout)
    return col.kinds("temperature")[seen]


def test_calibration_procedure_of_operations_md(
    desk: tuple[Path, Trace, Broker], tmp_path: Path
) -> None:
    """OPERATIONS.md's calibration, run as written by a technician on the installed package, ends
    with the running box screening with the new offset: no restart, a file the service reads,
    and the same after a restart."""
    root, trace, broker = desk
    plateau = trace.presentations[0].plateau_c
    service = InstalledService(root, tmp_path / SERVICE_LOG)
    col = Collector(broker.port, "triage/v1/+/+/temperature")
    try:
        service.start()
        _wait_status(root, service)
        pid = service.proc.pid if service.proc else None
        # The procedure's command, word for word, without sudo, while the agent runs.
        started = time.monotonic()
        res = _as_technician(root, "triage-agent", "calibrate", "--reference", "36.9")
        took = time.monotonic() - started
        assert res.returncode == 0, res.stdout + service.log.read_text()[-3000:]
        assert "no restart needed" in res.stdout, res.stdout
        print(f"calibrate --reference 36.9 as the technician: {took:.1f} s")
        cal_file = "/var/lib/triage-agent/calibration.json"
        assert _stat(root, cal_file) == "644 triage-agent triage-agent"
        stored = json.loads((root / cal_file.lstrip("/")).read_text())
        assert stored["offset_c"] == pytest.approx(36.9 - plateau, abs=0.1)
        # The procedure's check: status names the offset and the file.
        status = _wait_status(root, service)
        assert f"calibration  offset {stored['offset_c']:+.2f} °C from {cal_file}" in status
        # The box screens with it: the next person, published to the broker, same process.
        ev = _temperature_after(col, len(col.kinds("temperature")))
        assert ev["offset_c"] == stored["offset_c"]
        assert ev["estimate_c"] == pytest.approx(36.9, abs=0.15)
        assert service.running()
        assert service.proc is not None
        assert service.proc.pid == pid
        diag = _as_technician(root, "triage-agent", "diag", "--no-broker", "--json")
        checks = {c["name"]: c for c in json.loads(diag.stdout)["checks"]}
        assert checks["calibration"]["verdict"] == "PASS", checks["calibration"]
        # A restart (power cut, update) keeps it: read from the file by the service user.
        assert service.stop() == 0
        service.start()
        _wait_status(root, service)
        assert _live_calibration(root)["offset_c"] == stored["offset_c"]
        assert _live_calibration(root)["problem"] is None
    finally:
        col.close()
        if service.running():
            service.stop()
    log = service.log.read_text()
    assert "Traceback" not in log, log[-3000:]


def test_root_only_calibration_file_never_stops_the_service(
    desk: tuple[Path, Trace, Broker], tmp_path: Path
) -> None:
    """The trap of the old version: a calibration file only root can read (written by
    `sudo triage-agent calibrate`) made the next start exit 78. Now the service starts, screens
    with the site offset, says why in status and diag, and takes the file within seconds of the
    fix diag gives. `sudo triage-agent calibrate` with the agent stopped writes a file the service
    reads."""
    root, trace, broker = desk
    plateau = trace.presentations[0].plateau_c
    cal_file = root / "var/lib/triage-agent/calibration.json"
    cal_file.write_text(json.dumps({"version": 1, "offset_c": 0.4, "at": 0, "method": "manual"}))
    os.chown(cal_file, 0, 0)
    cal_file.chmod(0o600)
    service = InstalledService(root, tmp_path / SERVICE_LOG)
    col = Collector(broker.port, "triage/v1/+/+/temperature")
    try:
        service.start()
        status = _wait_status(root, service)
        assert "FILE UNUSABLE" in status, status
        cal = _live_calibration(root)
        assert cal["offset_c"] == 0.0
        assert "not readable by the agent" in str(cal["problem"])
        ev = _temperature_after(col, 0)
        assert ev["offset_c"] == 0.0, "screening goes on"
        diag = _as_technician(root, "triage-agent", "diag", "--no-broker", "--json")
        checks = {c["name"]: c for c in json.loads(diag.stdout)["checks"]}
        fix = str(checks["calibration"]["fix"])
        assert checks["calibration"]["verdict"] == "FAIL"
        # The fix diag gives, as root, exactly.
        chown = fix.split(" (the agent", maxsplit=1)[0]
        assert chown.startswith("sudo chown triage-agent:triage-agent "), fix
        started = time.monotonic()
        _ok(root, "sh", "-c", chown.replace("sudo ", ""))
        while _live_calibration(root)["offset_c"] != 0.4:
            assert time.monotonic() - started < 5, "the agent did not take the fixed file"
            time.sleep(0.2)
        print(f"fixed file in force {time.monotonic() - started:.1f} s after the chown")
        ev = _temperature_after(col, len(col.kinds("temperature")))
        assert ev["offset_c"] == 0.4
        assert ev["estimate_c"] == pytest.approx(plateau + 0.4, abs=0.1)
        assert service.stop() == 0
        # The agent stopped, the technician without sudo: told at once (no minute of port
        # retries blaming the thermometer), with the two ways out.
        started = time.monotonic()
        res = _as_technician(root, "triage-agent", "calibrate", "--reference", "36.9")
        took = time.monotonic() - started
        assert res.returncode == 77, res.stdout
        assert "permission denied" in res.stdout, res.stdout
        assert "sudo systemctl start triage-agent" in res.stdout, res.stdout
        assert took < 10, took
        print(f"technician, agent stopped: refused in {took:.1f} s")
        # `sudo triage-agent calibrate` measures itself and writes the file owned by the service
        # user.
        res = _chroot(root, "triage-agent", "calibrate", "--reference", "36.9")
        assert res.returncode == 0, res.stdout
        assert "the agent is not running" in res.stdout
        assert _stat(root, "/var/lib/triage-agent/calibration.json") == (
            "644 triage-agent triage-agent"
        )
        stored = json.loads(cal_file.read_text())
        service.start()
        _wait_status(root, service)
        cal = _live_calibration(root)
        assert cal["offset_c"] == stored["offset_c"]
        assert cal["problem"] is None
    finally:
        col.close()
        if service.running():
            service.stop()
    log = service.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "status=78" not in log


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
