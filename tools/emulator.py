"""``python -m tools.emulator``: an emulated IR thermometer on a pty, for use without hardware.

``--protocol`` is any name in the protocol registry (``agent/thermometer/protocols``). Opens a
pseudo-terminal, prints the slave path as the first stdout line (then one JSON line per presentation
with its true plateau) and streams a :mod:`firmware_bridge.trace` in real time (``--speed`` scales
it) with the protocol's own emulator encoder: ``bridge`` exactly as the Pico firmware does (same
encoder); ``gy-mcu90614`` stays silent until the host sends ``A5 45 EA`` (continuous output) and
answers ``A5 15 BA`` with one frame, as the module does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from agent.thermometer.protocols import PROTOCOLS
from agent.thermometer.simulated_port import emulator
from firmware_bridge.trace import SCENARIOS, generate


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; runs until interrupted (or the trace ends with ``--once``)."""
    p = argparse.ArgumentParser(
        prog="python -m tools.emulator",
        description="Emulated IR thermometer on a pty (prints the pty path on the first line).",
    )
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), default="bridge")
    p.add_argument("--scenario", choices=SCENARIOS, default="mixed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--speed", type=float, default=1.0, help="time scale (2 = twice as fast)")
    p.add_argument("--once", action="store_true", help="play the trace once, then exit")
    p.add_argument("--no-faults", action="store_true", help="no garbage or corrupted frames")
    p.add_argument("--symlink", type=Path, help="also make this symlink point at the pty")
    args = p.parse_args(argv)
    if args.speed <= 0:
        p.error("--speed must be > 0")
    trace = generate(args.scenario, args.seed)
    emu = emulator(
        args.protocol, trace, speed=args.speed, loop=not args.once, wire_faults=not args.no_faults
    )
    path = emu.start()
    if args.symlink is not None:
        tmp = args.symlink.with_name(args.symlink.name + ".tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(path)
        tmp.replace(args.symlink)
    print(path, flush=True)
    for pres in trace.presentations:
        print(json.dumps(asdict(pres)), flush=True)
    try:
        while not emu.finished.wait(0.2):
            pass
        time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
