"""A thermometer on a pty: streams a :mod:`firmware_bridge.trace` as real wire bytes.

:class:`PtyEmulator` opens a pseudo-terminal with :func:`os.openpty` and plays a trace in real time
(``speed`` scales it) through a :class:`DeviceEncoder`, the device side of one wire protocol. It
knows no protocol by name: each thermometer protocol declares its encoder in its own module
(``agent/thermometer/protocols/``), and the caller takes it from that registry
(``agent.thermometer.simulated_port.emulator``; ``python -m tools.emulator`` on the command line).
This package never imports the agent. Wire faults are injected on purpose: bursts of garbage bytes,
frames with a corrupted checksum and, for protocols whose frames are numbered, dropped frames;
seeded and repeatable. The master side is non-blocking: when nobody reads, bytes are dropped as on a
real UART.
"""

from __future__ import annotations

import os
import random
import select
import threading
import time
import tty
from typing import Protocol

from firmware_bridge.trace import Sample, Trace

HELLO_EVERY_S = 10.0


class DeviceEncoder(Protocol):
    """The device side of one wire protocol, as the emulator plays it (one instance per run)."""

    numbered: bool
    """Frames carry sequence numbers, so the emulator also drops some (the host sees a gap)."""

    @property
    def streaming(self) -> bool:
        """True while the device sends every sample unasked."""

    def reading(self, object_c: float | None, ambient_c: float) -> bytes | None:
        """The bytes sent for one sample (``object_c`` None: a failed sensor read); None: nothing."""

    def hello(self, period_ms: int) -> bytes | None:
        """The introduction sent at start and every :data:`HELLO_EVERY_S`; None if there is none."""

    def hear(self, data: bytes) -> int:
        """Bytes from the host; returns how many single readings they ask for now."""


class PtyEmulator:
    """Plays one trace on a pty in a background thread; ``path`` is what the host opens."""

    def __init__(
        self,
        device: DeviceEncoder,
        trace: Trace,
        speed: float = 1.0,
        loop: bool = False,
        wire_faults: bool = True,
    ) -> None:
        self.device = device
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
        for _ in range(self.device.hear(data)):
            self._send_sample(self._current, force=True)

    def _garbage(self) -> None:
        if self.wire_faults and self._rng.random() < 0.01:
            self._write(bytes(self._rng.randrange(256) for _ in range(self._rng.randint(1, 24))))

    def _corrupt(self, frame: bytes) -> bytes:
        if self.wire_faults and self._rng.random() < 0.01:
            i = self._rng.randrange(2, len(frame))
            return frame[:i] + bytes(((frame[i] ^ (1 << self._rng.randrange(8))),)) + frame[i + 1 :]
        return frame

    def _send_sample(self, sample: Sample, force: bool = False) -> None:
        if not (self.device.streaming or force):
            return
        frame = self.device.reading(sample.object_c, sample.ambient_c)
        if frame is None:
            return
        if self.device.numbered and self.wire_faults and self._rng.random() < 0.005:
            return  # lost on the wire: the host sees a sequence gap
        self._garbage()
        self._write(self._corrupt(frame))
        self.frames_sent += 1

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
            if trace_t >= next_hello:
                hello = self.device.hello(round(self.trace.period_s * 1000))
                if hello is not None:
                    self._write(hello)
                next_hello = trace_t + HELLO_EVERY_S
            self._current = sample
            self._send_sample(sample)
            i += 1

    def _idle_until_stopped(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if ready:
                self._handle_input()
