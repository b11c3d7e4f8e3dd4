"""The offset in force in the running agent: the calibration file watched, and calibration live.

:class:`CalibratedScreening` is the analyser the service runs in place of the bare
:class:`~.screening.ScreeningAnalyser`: it passes observations through to it and owns its offset.

- **The file never stops the agent.** At start and then once a second (a ``stat``) it looks at the
  calibration file. A new or changed file that loads is applied from the next presentation (no
  restart); a removed one falls back to ``screening.site_offset_c``. One that cannot be read
  (permissions, torn or hand-edited JSON, an absurd offset) is a *degraded state*: screening goes on
  with the last good offset (at start: ``screening.site_offset_c``), :meth:`status` names the
  problem and the fix for ``status``/``diag``/systemd's status line, the journal says it once, and
  it clears by itself once the file is fixed (``chown``, rewrite, removal).
- **Calibration through the running agent.** The agent owns the serial port, so ``triage-agent
  calibrate`` asks it (status socket, :mod:`agent.service.calibration`) instead of opening the port:
  a :class:`CalibrationRequest` travels through the engine's queue to the main loop, like any
  observation, so the offset is only ever touched by the main loop. ``--reference`` waits for the
  next presentation that reaches a plateau and takes ``offset = reference - (estimate - offset in
  force)``; ``--offset`` takes the value. Either is stored in the file (as the service user, so it is
  always readable by the service) and applied at once; if it cannot be stored nothing changes.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agent.flow.events import Event, TemperatureEvent
from agent.flow.settings import ConfigError
from agent.thermometer.calibration import (
    OFFSET_LIMIT_C,
    Calibration,
    describe,
    load_calibration,
    owner_of,
    permission_advice,
    save_calibration,
)
from agent.thermometer.screening import ScreeningAnalyser

log = logging.getLogger(__name__)

MAX_WAIT_S = 600.0
"""Longest a ``--reference`` calibration may wait for a presentation."""

SITE_OFFSET = "screening.site_offset_c"
FILE = "calibration file"

Doc = dict[str, Any]


class CalibrationRequest:
    """One ``calibrate`` asked by another thread, answered by the main loop.

    The asker reads :meth:`next_message` until a message with ``"done": True``. Exactly one of
    ``reference_c`` (measure the next presentation) and ``offset_c`` (store this value) is set.
    """

    def __init__(
        self,
        *,
        reference_c: float | None = None,
        offset_c: float | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        if (reference_c is None) == (offset_c is None):
            raise ValueError("give exactly one of reference_c and offset_c")
        self.reference_c = reference_c
        self.offset_c = offset_c
        self.timeout_s = min(max(timeout_s, 1.0), MAX_WAIT_S)
        self.deadline = time.monotonic() + self.timeout_s
        self._messages: queue.SimpleQueue[Doc] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self.done = threading.Event()

    # -- the asker's side ------------------------------------------------------------------------
    def next_message(self, timeout_s: float) -> Doc | None:
        """The next progress or final message, None when none came within ``timeout_s``."""
        try:
            return self._messages.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def cancel(self) -> None:
        """The asker left (Ctrl-C): the main loop drops the request."""
        self._cancelled.set()

    # -- the main loop's side --------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def say(self, doc: Doc) -> None:
        """A progress message."""
        self._messages.put(doc)

    def finish(self, doc: Doc) -> None:
        """The final message (``ok`` true or false)."""
        self._messages.put({**doc, "done": True})
        self.done.set()


def _file_key(path: Path) -> tuple[object, ...]:
    """What changes when the file is replaced, rewritten, chmod-ed or chown-ed (or disappears)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return ("missing",)
    except OSError as exc:
        return ("error", exc.errno)
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode, st.st_uid, st.st_gid)


class CalibratedScreening:
    """:class:`~.screening.ScreeningAnalyser` with its offset from the watched calibration file
    and live calibration requests (see the module docstring). Main-loop thread only, except
    :meth:`status`, which reads a few fields for the status socket."""

    name = "screening"

    def __init__(
        self,
        screening: ScreeningAnalyser,
        path: Path,
        site_offset_c: float,
        clock: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: the wall clock (labels: a calibration's ``at``, ``problem_since``);
        ``mono``: the monotonic clock (how long the file was unusable)."""
        self.screening = screening
        self.path = path
        self.site_offset_c = site_offset_c
        self._clock = clock
        self._mono = mono
        self._problem_mono = 0.0
        self.calibration: Calibration | None = None
        self.source = SITE_OFFSET
        self.problem: str | None = None
        """Why the file cannot be used (None when it can, or there is none)."""
        self.advice: str | None = None
        self.problem_since: float | None = None
        self._key: tuple[object, ...] | None = None
        self._pending: CalibrationRequest | None = None
        self.screening.offset_c = site_offset_c
        self.check_file()

    @property
    def offset_c(self) -> float:
        """The offset in force."""
        return self.screening.offset_c

    # -- Analyser ------------------------------------------------------------------------------
    def feed(self, observation: object) -> Sequence[Event]:
        """Readings go to screening; a :class:`CalibrationRequest` is started."""
        if isinstance(observation, CalibrationRequest):
            self._begin(observation)
            return []
        events = self.screening.feed(observation)
        if self._pending is not None:
            self._watch(events)
        return events

    def tick(self, now: float) -> Sequence[Event]:
        """Screening timeouts, the waiting request's deadline, and a look at the file."""
        events = self.screening.tick(now)
        if self._pending is not None:
            self._watch(events)
            self._expire()
        self.check_file()
        return events

    # -- the file ------------------------------------------------------------------------------
    def check_file(self) -> None:
        """Reload the file when it changed since the last look (a ``stat``; cheap)."""
        key = _file_key(self.path)
        if key == self._key:
            return
        self._key = key
        if key == ("missing",):
            if self.source == FILE:
                log.warning(
                    "calibration file %s removed: screening with %s %+.2f °C",
                    self.path,
                    SITE_OFFSET,
                    self.site_offset_c,
                )
            self._use(None, SITE_OFFSET, self.site_offset_c)
            return
        try:
            cal = load_calibration(self.path)
        except ConfigError as exc:
            self._degrade(str(exc))
            return
        if cal is None:  # removed between the stat and the read
            self._key = None
            return
        if self.problem is not None:
            log.warning(
                "calibration file %s usable again after %.0f s",
                self.path,
                max(0.0, self._mono() - self._problem_mono),
            )
        if self.source != FILE or cal.offset_c != self.offset_c:
            log.info(
                "calibration offset %+.2f °C from %s in force (%s)",
                cal.offset_c,
                self.path,
                cal.method,
            )
        self._use(cal, FILE, cal.offset_c)

    def _use(self, cal: Calibration | None, source: str, offset_c: float) -> None:
        self.calibration = cal
        self.source = source
        self.screening.offset_c = offset_c
        self.problem = self.advice = self.problem_since = None

    def _degrade(self, message: str) -> None:
        """The file exists but cannot be used: keep the offset in force, say so once."""
        reason = message
        advice = (
            f"store the offset again with `triage-agent calibrate` while the agent runs, or "
            f"remove {self.path} to use {SITE_OFFSET}"
        )
        if "permission denied" in message:
            reason = (
                f"calibration file {self.path} is not readable by the agent ({describe(self.path)})"
            )
            advice = permission_advice(self.path)
        elif not os.access(self.path.parent, os.R_OK | os.X_OK):
            advice = f"sudo chown {owner_of(self.path.parent)} {self.path.parent}"
        if reason == self.problem:
            return
        first = self.problem is None
        self.problem, self.advice = reason, advice
        if first:
            self.problem_since = self._clock()
            self._problem_mono = self._mono()
        log.error(
            "%s; screening goes on with the %s offset %+.2f °C (%s); fix: %s",
            reason,
            "last good" if self.source == FILE else SITE_OFFSET,
            self.offset_c,
            self.source,
            advice,
        )

    # -- live calibration --------------------------------------------------------------------------
    def _begin(self, req: CalibrationRequest) -> None:
        if req.cancelled:
            return
        if req.offset_c is not None:
            self._store(req, Calibration(req.offset_c, self._clock(), "manual"))
            return
        if self._pending is not None and not self._pending.cancelled:
            req.finish(
                {
                    "ok": False,
                    "code": "busy",
                    "error": "another calibration is waiting for a presentation; wait for it to end",
                }
            )
            return
        self._pending = req
        log.info(
            "calibration: waiting up to %.0f s for a presentation (reference %.2f °C)",
            req.timeout_s,
            req.reference_c,
        )

    def _watch(self, events: Sequence[Event]) -> None:
        req = self._pending
        if req is None:
            return
        if req.cancelled:
            log.info("calibration abandoned by the technician (command interrupted)")
            self._pending = None
            return
        for ev in events:
            if not isinstance(ev, TemperatureEvent):
                continue
            if ev.plateau_s <= 0:
                req.say(
                    {
                        "progress": "no stable reading (moved too soon?); step up again and hold still"
                    }
                )
                continue
            assert req.reference_c is not None
            uncalibrated = round(ev.estimate_c - ev.offset_c, 2)
            self._pending = None
            self._store(
                req,
                Calibration(
                    offset_c=round(req.reference_c - uncalibrated, 2),
                    at=self._clock(),
                    method="reference",
                    reference_c=req.reference_c,
                    estimate_c=uncalibrated,
                ),
            )
            return

    def _expire(self) -> None:
        req = self._pending
        if req is not None and time.monotonic() > req.deadline:
            self._pending = None
            req.finish(
                {
                    "ok": False,
                    "code": "timeout",
                    "error": f"no stable presentation within {req.timeout_s:.0f} s; nothing stored",
                }
            )

    def _store(self, req: CalibrationRequest, cal: Calibration) -> None:
        previous = self.offset_c
        if not math.isfinite(cal.offset_c) or abs(cal.offset_c) > OFFSET_LIMIT_C:
            req.finish(
                {
                    "ok": False,
                    "code": "limit",
                    "error": (
                        f"offset {cal.offset_c:+.2f} °C is beyond ±{OFFSET_LIMIT_C} °C: check the "
                        "reference reading and that the person stood in front of the sensor; "
                        f"nothing stored, the offset in force stays {previous:+.2f} °C"
                    ),
                    "calibration": asdict(cal),
                }
            )
            return
        try:
            save_calibration(self.path, cal)
        except OSError as exc:
            req.finish(
                {
                    "ok": False,
                    "code": "storage",
                    "error": (
                        f"the agent cannot write {self.path}: {exc.strerror or exc}; nothing "
                        f"changed, the offset in force stays {previous:+.2f} °C (check `df -h "
                        f"{self.path.parent}` and that {self.path.parent} belongs to "
                        f"{owner_of(self.path.parent)})"
                    ),
                }
            )
            return
        if self.problem is not None:
            log.warning("calibration file %s rewritten: usable again", self.path)
        self._use(cal, FILE, cal.offset_c)
        self._key = _file_key(self.path)
        log.info(
            "calibration: offset %+.2f °C (was %+.2f °C) stored in %s and in force from now on%s",
            cal.offset_c,
            previous,
            self.path,
            ""
            if cal.reference_c is None
            else f" (reference {cal.reference_c:.2f} °C, uncalibrated {cal.estimate_c:.2f} °C)",
        )
        req.finish(
            {
                "ok": True,
                "calibration": asdict(cal),
                "file": str(self.path),
                "previous_offset_c": previous,
            }
        )

    # -- reporting -----------------------------------------------------------------------------
    def snapshot(self) -> Mapping[str, Any]:
        """For ``triage-agent status`` and ``diag`` (no secrets, no images)."""
        cal = self.calibration
        return {
            "offset_c": self.offset_c,
            "source": self.source,
            "file": str(self.path),
            "at": None if cal is None else cal.at,
            "method": None if cal is None else cal.method,
            "reference_c": None if cal is None else cal.reference_c,
            "problem": self.problem,
            "advice": self.advice,
            "problem_since": self.problem_since,
            "waiting": self._pending is not None,
        }
