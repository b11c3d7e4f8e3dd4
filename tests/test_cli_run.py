"""``triage-agent run``'s exit: a source thread still inside onnxruntime must not abort the process.

Found under arm64 emulation (tests/test_arm64.py), where one inference takes seconds: the vision
thread outlived the stop's join timeout, and interpreter finalisation ended it with ``pthread_exit``
through onnxruntime's C++ frames: "terminate called without an active exception", SIGABRT, after
"stopped cleanly". Reproduced here on x86 with a daemon thread looping over a large real inference
(a plain ``sys.exit(0)`` in that state aborted in 2 of 3 runs when this was written).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.model

PROBE = """
import sys, threading, time, logging
from pathlib import Path
import numpy as np
from agent.cli.run import exit_past_stuck_threads
from agent.vision.inference.families.session import OnnxModel
from agent.vision.manifest import load_manifest
logging.basicConfig()
models = Path("models")
spec = next(s for s in load_manifest(models / "manifest.json").models if s.name == "face-detector")
model = OnnxModel(spec, models / spec.file, threads=1)
x = np.zeros((1, 3, 1920, 2560), np.float32)
started = threading.Event()
def work():
    started.set()
    while True:
        model.run(x)
threading.Thread(target=work, name="vision-worker", daemon=True).start()
started.wait()
time.sleep(0.5)
sys.exit(exit_past_stuck_threads(0))
"""


QUIET = """
import logging, sys
from agent.cli.run import exit_past_stuck_threads
logging.basicConfig()
sys.exit(exit_past_stuck_threads(3))
"""


def test_exit_with_a_thread_inside_onnxruntime_is_clean() -> None:
    for _ in range(3):
        res = subprocess.run(
            [sys.executable, "-c", PROBE],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert res.returncode == 0, res.stderr[-2000:]
        assert "terminate called" not in res.stderr
        assert "threads still running at exit (vision-worker)" in res.stderr


def test_exit_without_threads_returns_the_status() -> None:
    # In a child: in the test process a thread of another test may be alive, and the call would end
    # pytest itself.
    res = subprocess.run(
        [sys.executable, "-c", QUIET],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 3, res.stderr[-2000:]
    assert "threads still running" not in res.stderr
