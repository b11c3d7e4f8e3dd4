"""``triage-agent run`` as a measured child process: start -> ``READY=1``, CPU time, peak RSS.

The agent runs as ``python -m agent run --config FILE`` (the console script's code path) under
``taskset -c CPU`` when given, with ``NOTIFY_SOCKET`` pointing at a datagram socket this process
binds, so the moment systemd would see ``READY=1`` is observed exactly. CPU time comes from
``/proc/PID/stat`` (user + system of all the agent's threads), peak RSS from ``VmHWM`` in
``/proc/PID/status`` (read just before the agent is stopped).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import tomli_w

REPO = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def config(tmp: Path, port: int, **sections: dict[str, Any]) -> Path:
    """A config file for a benchmark run: local broker, files under ``tmp``, sources as given."""
    cfg: dict[str, Any] = {
        "device": {"site": "bench-site", "desk": "desk-1"},
        "mqtt": {"host": "127.0.0.1", "port": port},
        "thermometer": {"enabled": False},
        "camera": {"enabled": False},
        "vision": {"models_dir": str(REPO / "models")},
        "outbox": {"path": str(tmp / "state" / "outbox.sqlite3")},
        "runtime": {
            "state_dir": str(tmp / "state"),
            "status_socket": str(tmp / "run" / "status.sock"),
            "log_level": "INFO",
        },
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    path = tmp / "agent.toml"
    path.write_text(tomli_w.dumps(cfg))
    return path


class AgentRun:
    """One agent child process; use as a context manager (stops it on exit)."""

    def __init__(self, config_path: Path, cpu: int | None = 0) -> None:
        self._dir = config_path.parent
        self._notify_path = self._dir / "notify.sock"
        self._notify_path.unlink(missing_ok=True)
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(str(self._notify_path))
        self._log = (self._dir / "agent.log").open("wb")
        cmd = [sys.executable, "-m", "agent", "run", "--config", str(config_path)]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu), *cmd]
        env = {**os.environ, "NOTIFY_SOCKET": str(self._notify_path)}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        self.ready_s: float | None = None

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from process start to the ``READY=1`` datagram."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._notify.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self._notify.recv(4096)
            except TimeoutError:
                break
            if b"READY=1" in data.split(b"\n"):
                self.ready_s = time.monotonic() - self.started
                return self.ready_s
        raise RuntimeError(f"agent not ready within {timeout} s:\n{self.output()[-3000:]}")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the agent so far (all threads)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss_peak_mb(self) -> float:
        """Peak resident memory (``VmHWM``) in MiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")

    def resident_mb(self) -> dict[str, float]:
        """Resident memory now, in MiB: ``rss_anon`` (the process's own) and ``rss_file``
        (file-backed: libraries, models), from ``/proc/PID/status``."""
        fields = {"RssAnon:": "rss_anon", "RssFile:": "rss_file"}
        out: dict[str, float] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key = line.split(maxsplit=1)[0] if line else ""
            if key in fields:
                out[fields[key]] = int(line.split()[1]) / 1024
        return out

    def output(self) -> str:
        return (self._dir / "agent.log").read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._log.close()
        self._notify.close()
        return rc

    def __enter__(self) -> AgentRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
