"""bench/bench_central_pages.py: the report's peak RSS is its own, not the benchmark's."""

from __future__ import annotations

import sys

from bench.bench_central_pages import run_measuring_peak_rss


def test_a_small_child_of_a_big_process_is_measured_small() -> None:
    ballast = bytearray(300 * 2**20)  # the benchmark holds pages and engines: hundreds of MiB
    ballast[::4096] = b"x" * len(ballast[::4096])  # touched: resident
    kib = run_measuring_peak_rss([sys.executable, "-c", "pass"])
    assert 1_000 < kib < 100 * 1024, kib  # a bare interpreter: ~10 MiB, never the 300 MiB above
    del ballast


def test_a_big_child_is_measured_big() -> None:
    grow = "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    kib = run_measuring_peak_rss([sys.executable, "-c", grow])
    assert kib > 200 * 1024, kib
