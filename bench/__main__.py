"""`make bench`: run the benchmarks, print one table, write ``bench/out/results.json``.

Each ``bench/bench_*.py`` module's ``main()`` returns a dict of measured figures (or
``{"skipped": reason}`` when ../shared is absent). The runner keeps every module's raw figures
under ``"benches"`` and picks the headline figures into ``"figures"``, one entry per stable key of
:data:`FIGURES` (docs/PERFORMANCE.md explains each one)::

    {"machine": {...}, "smoke": false,
     "figures": {"vision.fps_1core": {"ours": 30.0, "reference": 30.0, "target": ">= 30",
                                      "unit": "frames/s", "ok": true}, ...},
     "benches": {"bench_vision": {...}, ...}}

``ours`` is the product as configured by default, ``reference`` the figure it is compared with
(the AIZOO pipeline on every frame, the float face model, H.264 video...; None where there is no
peer), ``ok`` whether ``ours`` meets the issue-12 target (None without a target or a figure). A
key whose benchmark did not run (not selected, skipped, failed) is still present with None values.

``python -m bench [--smoke] [NAMES...]``; ``--smoke`` (``make bench-smoke``) sets ``BENCH_SMOKE=1``:
every benchmark runs briefly, so the figures are only indicative (the table says so).
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "results.json"


@dataclass(frozen=True)
class Figure:
    """Where a headline figure comes from: ``bench`` module, a path of keys into its result."""

    unit: str
    ours: tuple[str, ...]
    reference: tuple[str, ...] | None = None
    target: tuple[Callable[[float, float], bool], float] | None = None

    def describe_target(self) -> str | None:
        if self.target is None:
            return None
        op, value = self.target
        return f"{'<=' if op is operator.le else '>='} {value:g}"


LE, GE = operator.le, operator.ge
FIGURES: dict[str, Figure] = {
    "vision.fps_1core": Figure(
        "frames/s", ("bench_vision", "fps_1core"), ("bench_vision", "aizoo_fps_1core"), (GE, 30)
    ),
    "vision.dropped_frames": Figure(
        "frames", ("bench_vision", "dropped"), ("bench_vision", "aizoo_dropped"), (LE, 0)
    ),
    "vision.core_s_per_video_s": Figure(
        "core-s/s", ("bench_vision", "ours_core_s_per_s"), ("bench_vision", "aizoo_core_s_per_s")
    ),
    "vision.cost_vs_aizoo": Figure("ratio", ("bench_vision", "cost_vs_aizoo"), None, (LE, 0.5)),
    "vision.idle_cpu_pct": Figure(
        "% of a core",
        ("bench_agent", "idle_cpu_pct"),
        ("bench_vision", "idle_cpu_pct_vision"),
        (LE, 5),
    ),
    "vision.react_s": Figure("s", ("bench_vision", "react_s"), None, (LE, 0.5)),
    "vision.busy_recall": Figure(
        "share",
        ("bench_vision", "accuracy_busy_video", "gated", "recall"),
        ("bench_vision", "accuracy_busy_video", "every", "recall"),
    ),
    "vision.busy_mask_accuracy": Figure(
        "share",
        ("bench_vision", "accuracy_busy_video", "gated", "mask_accuracy"),
        ("bench_vision", "accuracy_busy_video", "aizoo", "mask_accuracy"),
    ),
    "accuracy.scene_face_recall": Figure(
        "share", ("bench_vision", "scene_face_recall"), ("bench_vision", "scene_face_recall_float")
    ),
    "accuracy.mask_heldout": Figure(
        "share",
        ("bench_vision", "mask_heldout_accuracy"),
        ("bench_vision", "aizoo_heldout_accuracy"),
    ),
    "accuracy.worn_wrong_real": Figure(
        "share", ("bench_vision", "worn_wrong_real_recall"), None, (GE, 0.8)
    ),
    "memory.rss_peak_mb": Figure("MiB", ("bench_agent", "rss_peak_mb"), None, (LE, 200)),
    "startup.ready_s": Figure("s", ("bench_agent", "startup_ready_s"), None, (LE, 3)),
    "thermometer.puback_p50_ms": Figure("ms", ("bench_latency", "p50_ms")),
    "thermometer.puback_p99_ms": Figure("ms", ("bench_latency", "p99_ms"), None, (LE, 50)),
    "outbox.replay_10k_s": Figure("s", ("bench_outbox", "replay_s"), None, (LE, 10)),
    "traffic.bytes_per_hour": Figure(
        "bytes/h",
        ("bench_agent", "traffic", "bytes_per_hour"),
        ("bench_agent", "traffic", "h264_bytes_per_hour"),
    ),
    "traffic.ratio_vs_h264": Figure("ratio", ("bench_agent", "traffic", "ratio_vs_h264")),
    # The district's pages at 2,000 desks on PostgreSQL (issue 20 item 2, docs/CENTRAL.md).
    "central.fleet_p95_s": Figure("s", ("bench_central_pages", "fleet_p95_s"), None, (LE, 0.5)),
    "central.day_page_s": Figure("s", ("bench_central_pages", "day_page_s"), None, (LE, 2)),
    "central.day_csv_s": Figure("s", ("bench_central_pages", "day_csv_s")),
    "central.report_date_s": Figure("s", ("bench_central_pages", "report_date_s"), None, (LE, 10)),
    "central.report_date_rss_mb": Figure(
        "MiB", ("bench_central_pages", "report_date_rss_mb"), None, (LE, 300)
    ),
    "central.week_page_s": Figure("s", ("bench_central_pages", "week_page_s"), None, (LE, 2)),
    "central.week_report_s": Figure("s", ("bench_central_pages", "week_report_s"), None, (LE, 2)),
    "central.clinic_page_s": Figure("s", ("bench_central_pages", "clinic_page_s"), None, (LE, 0.2)),
    "central.reconcile_day_s": Figure("s", ("bench_central_pages", "reconcile_day_s")),
    # District ingest (issue 20 item 3, docs/CENTRAL.md "Ingest at district rate").
    "central.ingest_events_per_s": Figure(
        "events/s", ("bench_central_ingest", "events_per_s"), None, (GE, 5000)
    ),
    "central.ingest_lost": Figure("events", ("bench_central_ingest", "lost"), None, (LE, 0)),
    "central.ingest_duplicates": Figure(
        "events", ("bench_central_ingest", "duplicates"), None, (LE, 0)
    ),
    "central.ingest_rollups_match": Figure(
        "yes/no", ("bench_central_ingest", "rollups_match"), None, (GE, 1)
    ),
    "central.collector_rss_mb": Figure(
        "MiB", ("bench_central_ingest", "collector_rss_mb"), None, (LE, 200)
    ),
}


def _dig(results: dict[str, Any], path: tuple[str, ...] | None) -> Any:
    node: Any = results
    for key in path or ():
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if path else None


def figures(benches: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The headline figures (every key of :data:`FIGURES`) from the benchmarks' raw results."""
    out: dict[str, dict[str, Any]] = {}
    for key, fig in FIGURES.items():
        ours, ref = _dig(benches, fig.ours), _dig(benches, fig.reference)
        ok = None
        if fig.target is not None and isinstance(ours, (int, float)):
            op, value = fig.target
            ok = bool(op(float(ours), value))
        out[key] = {
            "ours": ours,
            "reference": ref,
            "target": fig.describe_target(),
            "unit": fig.unit,
            "ok": ok,
        }
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    return str(value)


def table(rows: dict[str, dict[str, Any]], smoke: bool) -> str:
    """The figures as a plain-text table."""
    head = ("figure", "ours", "reference", "target", "unit", "ok")
    lines = [head] + [
        (k, _cell(r["ours"]), _cell(r["reference"]), _cell(r["target"]), r["unit"], _cell(r["ok"]))
        for k, r in rows.items()
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    if smoke:
        text.append("(smoke run: short windows, figures indicative only)")
    return "\n".join(text)


def main() -> int:
    parser = argparse.ArgumentParser(description="run the benchmarks")
    parser.add_argument("names", nargs="*", help="benchmark module names (default: all)")
    parser.add_argument("--smoke", action="store_true", help="short runs (BENCH_SMOKE=1)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"results file (default {OUT})")
    args = parser.parse_args()
    if args.smoke:
        os.environ["BENCH_SMOKE"] = "1"
    smoke = os.environ.get("BENCH_SMOKE") == "1"
    names = args.names or sorted(p.stem for p in HERE.glob("bench_*.py"))
    benches: dict[str, Any] = {}
    failed = 0
    for name in names:
        t0 = time.perf_counter()
        print(f"running {name} ...", flush=True)
        try:
            result = import_module(f"bench.{name}").main()
        except Exception as exc:  # report and go on with the others
            result = {"error": f"{type(exc).__name__}: {exc}"}
            failed += 1
        benches[name] = {**result, "wall_s": round(time.perf_counter() - t0, 1)}
    rows = figures(benches)
    doc = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.machine(),
            "cores": os.cpu_count(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "smoke": smoke,
        "figures": rows,
        "benches": benches,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(table(rows, smoke))
    print(f"written: {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
