"""A thermometer on a pty: streams a :mod:`firmware_bridge.trace` as real wire bytes.

``python -m firmware_bridge.emulator --protocol bridge|gy-mcu90614 [--scenario S] [--seed N]`` opens
a pseudo-terminal with :func:`os.openpty`, prints the slave path as the first stdout line (then one
JSON line per presentation with its true plateau) and streams the trace in real time (``--speed``
scales it). ``bridge`` speaks ``PROTOCOL.md`` exactly as the Pico firmware does (same encoder);
``gy-mcu90614`` stays silent until the host sends ``A5 45 EA`` (continuous output) and answers
``A5 15 BA`` with one frame, as the module does. Wire faults are injected on purpose: bursts of
garbage bytes, frames with a corrupted checksum and (bridge) dropped frames, seeded and repeatable.
The master side is non-blocking: when nobody reads, bytes are dropped as on a real UART.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import sys
import threading
import time
import tty
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from firmware_bridge.bridge import FIRMWARE_VERSION
from firmware_bridge.framing import (
    FLAG_OBJECT_INVALID,
    FLAG_PEC_ERROR,
    FLAG_RESTARTED,
    encode_hello,
    encode_reading,
)
from firmware_bridge.trace import SCENARIOS, Sample, Trace, generate

PROTOCOLS: tuple[str, ...] = ("bridge", "gy-mcu90614")
GY_START_CONTINUOUS = b"\xa5\x45\xea"
GY_QUERY_ONCE = b"\xa5\x15\xba"
HELLO_EVERY_S = 10.0


def gy_frame(object_c: float, ambient_c: float) -> bytes:
    """One GY-MCU90614 temperature frame: ``5A 5A 45 04 TOH TOL TAH TAL SUM``."""
    to = round(object_c * 100) & 0xFFFF
    ta = round(ambient_c * 100) & 0xFFFF
    body = bytes((0x5A, 0x5A, 0x45, 0x04, to >> 8, to & 0xFF, ta >> 8, ta & 0xFF))
    return body + bytes((sum(body) & 0xFF,))


class PtyEmulator:
    """Plays one trace on a pty in a background thread; ``path`` is what the host opens."""

    def __init__(
        self,
        protocol: str,
        trace: Trace,
        speed: float = 1.0,
        loop: bool = False,
        wire_faults: bool = True,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        self.trace = trace
        self.speed = speed
        self.loop = loop
        self.wire_faults = wire_faults
        self.finished = threading.Event()
        """Set once the whole trace has been played (never when ``loop``)."""
        self.started_at: float | None = None
        """``time.time()`` of trace time 0 (for mapping truth onto wall-clock times)."""
        self.frames_sent = 0
        self.frames_dropped = 0
        self._rng = random.Random(trace.seed ^ 0x5EED)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = -1
        self._slave = -1
        self._path = ""
        self._seq = 0
        self._streaming = protocol == "bridge"
        self._pending = b""
        self._restarted = True

    @property
    def path(self) -> str:
        """The pty slave path (valid after :meth:`start`)."""
        return self._path

    def start(self) -> str:
        """Open the pty and start streaming; returns the slave path."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self._path = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name="thermo-emulator", daemon=True)
        self._thread.start()
        return self._path

    def stop(self) -> None:
        """Stop streaming and close the pty (the host sees the device vanish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def wall_time(self, trace_t: float) -> float:
        """Wall-clock time at which trace time ``trace_t`` was (or will be) played."""
        assert self.started_at is not None
        return self.started_at + trace_t / self.speed

    def _write(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except (BlockingIOError, OSError):
            self.frames_dropped += 1

    def _handle_input(self) -> None:
        try:
            data = os.read(self._master, 256)
        except (BlockingIOError, OSError):
            return
        if self.protocol != "gy-mcu90614":
            return
        self._pending = (self._pending + data)[-64:]
        while True:
            i_start = self._pending.find(GY_START_CONTINUOUS)
            i_once = self._pending.find(GY_QUERY_ONCE)
            hits = [i for i in (i_start, i_once) if i >= 0]
            if not hits:
                return
            first = min(hits)
            if first == i_start:
                self._streaming = True
            else:
                self._send_sample(self._current, force=True)
            self._pending = self._pending[first + 3 :]

    def _garbage(self) -> None:
        if self.wire_faults and self._rng.random() < 0.01:
            self._write(bytes(self._rng.randrange(256) for _ in range(self._rng.randint(1, 24))))

    def _corrupt(self, frame: bytes) -> bytes:
        if self.wire_faults and self._rng.random() < 0.01:
            i = self._rng.randrange(2, len(frame))
            return frame[:i] + bytes(((frame[i] ^ (1 << self._rng.randrange(8))),)) + frame[i + 1 :]
        return frame

    def _send_sample(self, sample: Sample, force: bool = False) -> None:
        if self.protocol == "bridge":
            flags = FLAG_RESTARTED if self._restarted else 0
            self._restarted = False
            if sample.object_c is None:
                flags |= FLAG_OBJECT_INVALID | FLAG_PEC_ERROR
            obj = 0 if sample.object_c is None else round(sample.object_c * 100)
            frame = encode_reading(self._seq, 0, flags, obj, round(sample.ambient_c * 100))
            self._seq = (self._seq + 1) & 0xFFFF
            if self.wire_faults and self._rng.random() < 0.005:
                return  # lost on the wire: the host sees a sequence gap
        else:
            if not (self._streaming or force):
                return
            if sample.object_c is None:
                return  # the module sends nothing when its sensor read fails
            frame = gy_frame(sample.object_c, sample.ambient_c)
        self._garbage()
        self._write(self._corrupt(frame))
        self.frames_sent += 1

    def _hello(self) -> None:
        self._write(encode_hello(self._seq, FIRMWARE_VERSION, 0, round(self.trace.period_s * 1000)))
        self._seq = (self._seq + 1) & 0xFFFF

    def _run(self) -> None:
        samples = self.trace.samples
        self._current = samples[0]
        t0 = time.monotonic()
        self.started_at = time.time()
        offset = 0.0
        i = 0
        next_hello = 0.0
        while not self._stop.is_set():
            if i >= len(samples):
                if not self.loop:
                    self.finished.set()
                    self._idle_until_stopped()
                    return
                offset += self.trace.duration_s
                i = 0
            sample = samples[i]
            trace_t = offset + sample.t
            wait = t0 + trace_t / self.speed - time.monotonic()
            if wait > 0:
                ready, _, _ = select.select([self._master], [], [], min(wait, 0.05))
                if ready:
                    self._handle_input()
                continue
            if self.protocol == "bridge" and trace_t >= next_hello:
                self._hello()
                next_hello = trace_t + HELLO_EVERY_S
            self._current = sample
            self._send_sample(sample)
            i += 1

    def _idle_until_stopped(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if ready:
                self._handle_input()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; runs until interrupted (or the trace ends with ``--once``)."""
    p = argparse.ArgumentParser(
        prog="python -m firmware_bridge.emulator",
        description="Emulated IR thermometer on a pty (prints the pty path on the first line).",
    )
    p.add_argument("--protocol", choices=PROTOCOLS, default="bridge")
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
    emu = PtyEmulator(
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
