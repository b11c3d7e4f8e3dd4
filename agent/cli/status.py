"""The technician's side of the status socket: the ``status`` and ``tail`` commands.

Connects to the running agent's Unix socket (see :mod:`agent.service.status_server`), asks for a snapshot or
subscribes to events, and prints them for a person (or as JSON with ``--json``). When the agent is not
running or the socket is not readable, the message says what to do next.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from agent.cli.errors import CliError
from agent.cli.terminal import duration, local_time, paint, use_colour
from agent.config import ConfigError, RuntimeConfig, load_config

CONNECT_TIMEOUT_S = 5.0
SERVICE = "triage-agent"


class StatusClientError(CliError):
    """The agent could not be reached; ``str()`` says what to do.

    ``not_running`` is True when no agent listens (no socket, or nobody behind it); ``denied`` when
    this user may not open the socket (not in the group)."""

    def __init__(self, message: str, *, not_running: bool = False, denied: bool = False) -> None:
        super().__init__(message)
        self.not_running = not_running
        self.denied = denied


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT_S)
    try:
        sock.connect(str(path))
    except FileNotFoundError:
        sock.close()
        raise StatusClientError(
            f"the agent is not running (no status socket at {path}).\n"
            f"  start it:        sudo systemctl start {SERVICE}\n"
            f"  see why it stopped: systemctl status {SERVICE}; "
            f"journalctl -u {SERVICE} -n 50\n"
            f"  check the setup: {SERVICE} diag",
            not_running=True,
        ) from None
    except PermissionError:
        sock.close()
        raise StatusClientError(
            f"not allowed to open {path}.\n"
            f"  run with sudo, or add your user to the group: sudo adduser $USER {SERVICE} "
            f"(then log out and in again)",
            denied=True,
        ) from None
    except ConnectionRefusedError:
        sock.close()
        raise StatusClientError(
            f"nothing is listening on {path} (the agent stopped or is restarting).\n"
            f"  check: systemctl status {SERVICE}; journalctl -u {SERVICE} -n 50",
            not_running=True,
        ) from None
    except TimeoutError:
        sock.close()
        raise StatusClientError(
            f"the agent did not answer on {path} within {CONNECT_TIMEOUT_S:.0f} s; it may be hung.\n"
            f"  restart it: sudo systemctl restart {SERVICE}"
        ) from None
    return sock


def _lines(sock: socket.socket) -> Iterator[dict[str, Any]]:
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                doc = json.loads(line)
                if isinstance(doc, dict):
                    yield doc


def _request(sock: socket.socket, cmd: str | Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    doc = {"cmd": cmd} if isinstance(cmd, str) else dict(cmd)
    sock.sendall(json.dumps(doc).encode() + b"\n")
    lines = _lines(sock)
    first = next(lines, None)
    if first is None:
        raise StatusClientError("the agent closed the connection without answering; try again")
    if not first.get("ok"):
        raise StatusClientError(f"the agent refused the request: {first.get('error')}")
    yield first
    yield from lines


def fetch_status(path: Path) -> dict[str, Any]:
    """The running agent's live snapshot. Raises :class:`StatusClientError`."""
    with _connect(path) as sock:
        try:
            first = next(_request(sock, "status"))
        except TimeoutError:
            raise StatusClientError(
                f"the agent accepted the connection but did not answer within "
                f"{CONNECT_TIMEOUT_S:.0f} s; it may be hung: sudo systemctl restart {SERVICE}"
            ) from None
    status = first.get("status")
    if not isinstance(status, dict):
        raise StatusClientError("the agent sent an unexpected answer; check the versions match")
    return status


def converse(path: Path, request: Mapping[str, Any], timeout_s: float) -> Iterator[dict[str, Any]]:
    """Send ``request`` to the running agent; yield its answer lines (the first has ``ok``).

    Raises :class:`StatusClientError` (``not_running`` when no agent listens) and
    :class:`TimeoutError` when a line takes longer than ``timeout_s``.
    """
    sock = _connect(path)
    with sock:
        sock.settimeout(timeout_s)
        yield from _request(sock, request)


def follow_events(path: Path) -> Iterator[dict[str, Any]]:
    """Events as the running agent writes them (``{"event": ...}`` or ``{"dropped": n}``)."""
    sock = _connect(path)
    with sock:
        stream = _request(sock, "tail")
        next(stream)
        sock.settimeout(None)
        yield from stream


# -- rendering -----------------------------------------------------------------------------------
_STATE_COLOUR = {"ok": "green", "starting": "yellow", "stale": "red", "disconnected": "red"}


def render_status(snap: Mapping[str, Any], colour: bool = False) -> str:
    """A snapshot as lines for a person."""
    out: list[str] = []
    head = f"triage-agent {snap.get('version', '?')} on {snap.get('device', '?')}"
    out.append(paint(head, "bold", colour) + f", up {duration(snap.get('uptime_s'))}")
    broker = snap.get("broker") or {}
    if broker.get("connected"):
        b = paint("connected", "green", colour)
        out.append(f"  broker       {b} to {broker.get('host', '?')}")
    else:
        b = paint("NOT connected", "red", colour)
        err = broker.get("last_error")
        out.append(f"  broker       {b} {broker.get('host', '')}" + (f" ({err})" if err else ""))
        out.append("               events wait in the outbox; run `triage-agent diag` to see why")
    clock = snap.get("clock") or {}
    if clock and (clock.get("state") != "synced" or clock.get("steps")):
        state = str(clock.get("state"))
        words = "synchronised" if state == "synced" else f"NOT synchronised ({state})"
        line = f"  clock        {paint(words, 'green' if state == 'synced' else 'yellow', colour)}"
        if clock.get("steps"):
            line += f"; stepped {clock['steps']}x, last {clock.get('last_step_s'):+} s"
        if clock.get("summaries") != "on":
            line += f"; summaries {clock.get('summaries')}"
        out.append(line)
    for name, src in (snap.get("sources") or {}).items():
        state = str(src.get("state", "?"))
        st = paint(f"{state:<12}", _STATE_COLOUR.get(state, "yellow"), colour)
        fps = src.get("fps")
        rate = f"{fps:.1f}/s" if isinstance(fps, int | float) else "-"
        age = src.get("age_s")
        last = f"last data {duration(age)} ago" if age is not None else "no data yet"
        errors = src.get("errors") or 0
        extra = f", {errors} bad reads" if errors else ""
        out.append(f"  {name:<12} {st} {rate:>7}  {last}{extra}")
    inf = snap.get("inference_ms")
    out.append(
        f"  inference    {inf:.1f} ms/frame" if isinstance(inf, int | float) else "  inference    -"
    )
    integrity = snap.get("integrity")
    if isinstance(integrity, dict):
        raised = integrity.get("raised") or []
        if raised:
            state = paint("ALERT " + ", ".join(raised), "red", colour)
        else:
            state = paint("ok", "green", colour)
        ref = (
            "commissioned"
            if integrity.get("commissioned")
            else paint("NOT commissioned (moves undetected)", "yellow", colour)
        )
        out.append(f"  camera view  {state}, {ref}")
    temp = snap.get("last_temperature")
    if isinstance(temp, dict):
        result = str(temp.get("result", "?"))
        colour_name = {"normal": "green", "fever": "red"}.get(result, "yellow")
        out.append(
            f"  temperature  {temp.get('estimate_c', 0):.1f} °C "
            f"{paint(result, colour_name, colour)} at {local_time(temp.get('at'))}"
        )
    else:
        out.append("  temperature  none measured yet")
    out += _calibration_lines(snap.get("calibration"), colour)
    box = snap.get("outbox") or {}
    out.append(
        f"  outbox       {box.get('depth', 0)} waiting, oldest {duration(box.get('oldest_s'))}"
        + (f", {box['evicted']} evicted unsent" if box.get("evicted") else "")
    )
    if box.get("storage"):
        out.append(
            "  storage      "
            + paint(f"FAILING: {box['storage']}", "red", colour)
            + f", {box.get('kept_in_memory', 0)} event(s) waiting in memory, "
            + f"{box.get('published_directly', 0)} sent straight to the broker; sensing continues"
        )
        out.append(f"               {box.get('advice') or 'free space or fix the disk'}")
    for notice in box.get("notices") or []:
        out.append(f"  outbox note  {paint(str(notice), 'yellow', colour)}")
    if snap.get("dropped"):
        out.append(f"  dropped      {snap['dropped']} (the agent is overloaded)")
    stuck = snap.get("stuck_threads")
    if stuck:
        names = paint(", ".join(map(str, stuck)), "red", colour)
        out.append(f"  STUCK        {names}: no watchdog pets, systemd will restart the agent")
    if snap.get("last_error"):
        out.append(f"  last error   {paint(str(snap['last_error']), 'red', colour)}")
    return "\n".join(out)


def _calibration_lines(cal: object, colour: bool) -> list[str]:
    """The offset in force, where it comes from, and a calibration file the agent cannot use."""
    if not isinstance(cal, dict):
        return []
    offset = cal.get("offset_c")
    value = f"{offset:+.2f} °C" if isinstance(offset, int | float) else "?"
    if cal.get("source") == "calibration file":
        when = f", {cal.get('method', '?')} {local_time(cal.get('at'))}" if cal.get("at") else ""
        where = f"from {cal.get('file')}{when}"
    else:
        where = "screening.site_offset_c (no calibration file)"
    if cal.get("problem"):
        return [
            f"  calibration  offset {value} ({cal.get('source')}) "
            + paint(f"FILE UNUSABLE: {cal['problem']}", "red", colour),
            f"               fix: {cal.get('advice')}",
        ]
    waiting = "; a calibration is waiting for a presentation" if cal.get("waiting") else ""
    return [f"  calibration  offset {value} {where}{waiting}"]


def render_event(doc: Mapping[str, Any]) -> str:
    """One tail line for a person."""
    if "dropped" in doc:
        return f"... {doc['dropped']} event(s) skipped (this terminal was too slow)"
    ev = dict(doc.get("event") or {})
    ts = ev.pop("ts", "?")
    kind = ev.pop("kind", "?")
    ev.pop("topic", None)
    fields = " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in ev.items())
    return f"{ts} {kind:<12} {fields}"


# -- commands ------------------------------------------------------------------------------------
def socket_path(args: argparse.Namespace) -> Path:
    """``--socket``, else the config's ``runtime.status_socket``, else the default path."""
    if args.socket:
        return Path(args.socket)
    try:
        return load_config(args.config).runtime.status_socket
    except ConfigError:
        return RuntimeConfig().status_socket


def _cmd_status(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        snap = fetch_status(socket_path(args))
    except StatusClientError as exc:
        print(f"triage-agent status: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(snap, indent=2, default=str), file=out)
    else:
        print(render_status(snap, use_colour(out)), file=out)
    return 0


def _cmd_tail(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        for doc in follow_events(socket_path(args)):
            print(json.dumps(doc) if args.json else render_event(doc), file=out, flush=True)
    except StatusClientError as exc:
        print(f"triage-agent tail: {exc}", file=sys.stderr)
        return 1
    print(
        "triage-agent tail: the agent stopped; see: systemctl status triage-agent", file=sys.stderr
    )
    return 1


def add_parser(sub: Any, add_config_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``status`` and ``tail``."""
    for name, helptext, func in (
        ("status", "live state of the running agent", _cmd_status),
        ("tail", "print events as the running agent produces them (Ctrl-C to stop)", _cmd_tail),
    ):
        p = sub.add_parser(name, help=helptext)
        add_config_arg(p)
        p.add_argument("--socket", help="status socket path (default: from the config)")
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.set_defaults(func=func)
