"""Shared fixtures: a private mosquitto per test, config files, schema validation, ../shared paths."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import tomli_w

from agent.wire.contract import payload_bound, schema
from tests.broker import Broker, Collector, Received
from tests.deb_build import BUILD_TIMEOUT_S, build_deb, prebuilt_env

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRIAGE_SHARED", REPO.parent / "shared"))


REQUIRE_SHARED = os.environ.get("TRIAGE_REQUIRE_SHARED") == "1"
"""Set by `.ci/run`: a missing ../shared then fails the tests that need it instead of skipping."""


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when it is absent (fail in CI)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        why = f"{p} is absent: this test needs ../shared (data and reference models)"
        if REQUIRE_SHARED:
            pytest.fail(f"{why}; TRIAGE_REQUIRE_SHARED=1 forbids skipping")
        pytest.skip(why)
    return p


FIXTURE_MARKERS = {
    "mosquitto": "broker",
    "broker_factory": "broker",
    "deb": "slow",
    "deb_arm64": "slow",
    "agent_process": "slow",
}
"""A test that takes one of these fixtures carries the marker, whether or not it says so: `make
check` (``-m 'not broker and not slow ...'``) then never starts a broker or builds a package."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers follow :data:`FIXTURE_MARKERS`. Tests marked ``shared`` skip, with the reason, when
    ../shared is not beside the project
    (under ``TRIAGE_REQUIRE_SHARED=1`` they run and fail instead). Tests that may build a .deb
    themselves (no ``TRIAGE_DEB`` / ``TRIAGE_DEB_ARM64``) get the build's own time budget on top of
    their timeout."""
    for item in items:
        for fixture in set(getattr(item, "fixturenames", ())) & set(FIXTURE_MARKERS):
            item.add_marker(getattr(pytest.mark, FIXTURE_MARKERS[fixture]))
    build_here = {
        fixture
        for fixture, arch in (("deb", None), ("deb_arm64", "arm64"))
        if not os.environ.get(prebuilt_env(arch))
    }
    for item in items:
        if build_here & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.timeout(300 + BUILD_TIMEOUT_S))
    if SHARED.is_dir() or REQUIRE_SHARED:
        return
    skip = pytest.mark.skip(reason=f"{SHARED} is absent: this test needs ../shared")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Debian package, built once per session (or ``$TRIAGE_DEB``): tests/deb_build.py."""
    return build_deb(tmp_path_factory)


@pytest.fixture(scope="session")
def deb_arm64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The arm64 package (``make deb ARCH=arm64``, or ``$TRIAGE_DEB_ARM64``), built once."""
    return build_deb(tmp_path_factory, arch="arm64")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """A real mosquitto on a free port, anonymous access, no persistence."""
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    """Start brokers with extra config lines (TLS, passwords, ACLs)."""
    started: list[Broker] = []

    def make(extra: list[str] | None = None, port: int | None = None) -> Broker:
        b = (
            Broker(tmp_path, extra=extra or [])
            if port is None
            else Broker(tmp_path, port, extra or [])
        )
        started.append(b.start())
        return b

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def collector_factory() -> Iterator[Callable[..., Collector]]:
    made: list[Collector] = []

    def make(port: int, topic: str = "#") -> Collector:
        c = Collector(port, topic)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def base_config(tmp_path: Path, port: int, **sections: dict[str, Any]) -> dict[str, Any]:
    """A config dict for a test run: local broker, files under tmp_path, sources off unless given."""
    cfg: dict[str, Any] = {
        "device": {"site": "test-site", "desk": "desk-1"},
        "mqtt": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 1, "reconnect_max_s": 2},
        "thermometer": {"enabled": False},
        "camera": {"enabled": False},
        "outbox": {"path": str(tmp_path / "state" / "outbox.sqlite3")},
        "reporting": {"health_interval_s": 2, "summary_interval_s": 3},
        "runtime": {
            "state_dir": str(tmp_path / "state"),
            "status_socket": str(tmp_path / "run" / "status.sock"),
            "log_level": "DEBUG",
        },
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return cfg


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(tomli_w.dumps(cfg))
    return path


def validate_message(msg: Received) -> dict[str, Any]:
    """Check one published message against the contract; return its JSON."""
    kind = msg.topic.rsplit("/", 1)[-1]
    assert len(msg.payload) <= payload_bound(kind), f"{msg.topic}: {len(msg.payload)} bytes"
    doc = msg.json()
    assert doc["kind"] == kind
    jsonschema.validate(doc, schema(kind))
    return doc


class AgentProcess:
    """``triage-agent run`` as a real child process."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.log = config.with_suffix(".log")
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "--config", str(config)],
            cwd=REPO,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def stop(self, sig: int = 15, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._log_file.close()
        return rc

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def agent_process() -> Iterator[Callable[..., AgentProcess]]:
    started: list[AgentProcess] = []

    def start(config: Path, env: dict[str, str] | None = None) -> AgentProcess:
        p = AgentProcess(config, env)
        started.append(p)
        time.sleep(0.1)
        return p

    yield start
    for p in started:
        p.stop(sig=9)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount a small real tmpfs (``size`` like ``"2m"``) under tmp_path; needs root (skips else).

    Used to fill a file system for real (disk full) in the storage fault tests.
    """
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root (CI and `make reliability` run as root)")
        point = tmp_path / f"fs{len(mounted)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


EXT4_IOC_SHUTDOWN = 0x8004587D
"""ioctl(2) request: shut an ext4 file system down as a failing device would (every call EIO)."""
EXT4_GOING_FLAGS_NOLOGFLUSH = 2


class FaultyFs:
    """A real ext4 file system in a loop-mounted image (``errors=remount-ro``), whose faults
    appear while files on it are open: :meth:`go_read_only` (the kernel's own remount after a file
    system error, as after an SD card error: EROFS from then on) and :meth:`fail_io` (the device
    stops answering: EIO)."""

    def __init__(self, point: Path) -> None:
        self.point = point

    def device(self) -> str:
        """The loop device's name (``loop0``), as /sys/fs/ext4 names it."""
        source = subprocess.run(
            ["findmnt", "-no", "SOURCE", str(self.point)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return Path(source).name

    def go_read_only(self) -> None:
        """Raise an ext4 error: with ``errors=remount-ro`` the kernel remounts it read-only
        (``emergency_ro``; ``mount -o remount,rw`` does not undo it)."""
        Path(f"/sys/fs/ext4/{self.device()}/trigger_fs_error").write_text("test\n")

    def fail_io(self) -> None:
        """Shut the file system down without flushing its log: every access after gives EIO."""
        fd = os.open(self.point, os.O_RDONLY)
        try:
            fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
        finally:
            os.close(fd)

    def options(self) -> str:
        """The mount options as the kernel shows them (``...,emergency_ro`` after the error)."""
        return subprocess.run(
            ["findmnt", "-no", "OPTIONS", str(self.point)], capture_output=True, text=True
        ).stdout.strip()


@pytest.fixture
def faulty_fs(tmp_path: Path) -> Iterator[Callable[[], FaultyFs]]:
    """Mount a 16 MB ext4 image on a loop device under tmp_path; needs root and loop devices
    (skips, saying why, else). Lazily unmounted at teardown (the loop device detaches itself)."""
    mounted: list[Path] = []

    def mount() -> FaultyFs:
        if os.geteuid() != 0:
            pytest.skip("a loop-mounted ext4 needs root (CI and `make reliability` run as root)")
        image = tmp_path / f"ext4-{len(mounted)}.img"
        point = tmp_path / f"ext4-{len(mounted)}"
        point.mkdir()
        with image.open("wb") as f:
            f.truncate(16 * 1024 * 1024)
        made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make an ext4 image here: {made.stderr.strip()}")
        done = subprocess.run(
            ["mount", "-o", "loop,errors=remount-ro", str(image), str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot loop-mount an ext4 image here: {done.stderr.strip()}")
        mounted.append(point)
        fs = FaultyFs(point)
        if not Path(f"/sys/fs/ext4/{fs.device()}/trigger_fs_error").exists():
            pytest.skip("this kernel has no /sys/fs/ext4/<dev>/trigger_fs_error (Linux >= 5.x)")
        return fs

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def fill(fs: Path) -> Path:
    """Fill the file system of ``fs`` to the last byte with a filler file; returns its path."""
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler
