"""`make bench`: run every ``bench/bench_*.py`` module's ``main()`` and print its figures as JSON.

Each benchmark returns a dict of measured figures; this runner prints one JSON line per benchmark
(``{"bench": name, ...figures}``) and writes them all to ``bench/results.json``. A benchmark that
needs ../shared and finds it absent returns ``{"skipped": reason}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from importlib import import_module
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description="run the benchmarks")
    parser.add_argument("names", nargs="*", help="benchmark names (default: all)")
    args = parser.parse_args()
    names = args.names or sorted(p.stem for p in HERE.glob("bench_*.py"))
    results: dict[str, object] = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.machine(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    }
    failed = 0
    for name in names:
        module = import_module(f"bench.{name}")
        t0 = time.perf_counter()
        try:
            figures = module.main()
        except Exception as exc:  # report and go on with the others
            figures = {"error": f"{type(exc).__name__}: {exc}"}
            failed += 1
        figures = {"bench": name, **figures, "wall_s": round(time.perf_counter() - t0, 2)}
        results[name] = figures
        print(json.dumps(figures), flush=True)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
