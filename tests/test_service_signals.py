"""Tests of agent.service.signals: SIGTERM and SIGINT set the stop event, sent for real to a child
Python process that installed the handlers (and logs which signal stopped it); the event stays
unset without a signal, a second signal is harmless, other signals keep their default action, and
installing from a thread other than the main one is refused."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from agent.service.signals import stop_on_signals
from tests.conftest import REPO

CHILD = """
import logging, sys, time
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s %(message)s")
from agent.service.signals import stop_on_signals
stop = stop_on_signals()
print("ready", stop.is_set(), flush=True)
woke = stop.wait(float(sys.argv[1]))
print("woke", woke, flush=True)
time.sleep(float(sys.argv[2]))  # room for a second signal
print("done", flush=True)
"""


def child(wait_s: float, linger_s: float = 0.0) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(wait_s), str(linger_s)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready False\n"
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_signal_sets_the_stop_event_and_is_logged(sig: signal.Signals) -> None:
    proc = child(wait_s=30)
    started = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10  # woken by the signal, not the 30 s timeout
    assert proc.returncode == 0, err
    assert out.splitlines() == [
        f"agent.service.pipeline signal {sig.name}: stopping",
        "woke True",
        "done",
    ]


def test_without_a_signal_the_event_stays_unset() -> None:
    proc = child(wait_s=0.2)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["woke False", "done"]


def test_a_second_signal_while_stopping_does_not_kill_the_process() -> None:
    proc = child(wait_s=30, linger_s=1.0)
    assert proc.stdout is not None
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout.readline().endswith("signal SIGTERM: stopping\n")
    assert proc.stdout.readline() == "woke True\n"
    proc.send_signal(signal.SIGINT)  # Ctrl-C during the shutdown
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["agent.service.pipeline signal SIGINT: stopping", "done"]


def test_other_signals_keep_their_default_action() -> None:
    proc = child(wait_s=30)
    proc.send_signal(signal.SIGHUP)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGHUP
    assert out == ""


def test_installing_outside_the_main_thread_is_refused() -> None:
    before = signal.getsignal(signal.SIGTERM)
    raised: list[BaseException] = []

    def install() -> None:
        try:
            stop_on_signals()
        except ValueError as exc:
            raised.append(exc)

    t = threading.Thread(target=install)
    t.start()
    t.join(10)
    assert len(raised) == 1
    assert "main thread" in str(raised[0])
    assert signal.getsignal(signal.SIGTERM) == before
