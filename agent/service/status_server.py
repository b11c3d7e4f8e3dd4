"""The agent's local status socket: live state and a stream of events for the technician CLI.

A Unix stream socket at ``runtime.status_socket`` (mode 0660; its folder 0750 when the agent creates
it, normally systemd's ``RuntimeDirectory``), so only the service user and its group may connect.
Nothing is reachable from the network. The protocol is one JSON object per line:

    request  {"cmd": "status"}  ->  {"ok": true, "status": {...snapshot...}}
    request  {"cmd": "tail"}    ->  {"ok": true, "tail": true}, then one {"event": {...}} per event,
                                    and {"dropped": n} when a slow reader missed n events
    request  {"cmd": <command>, ...}  ->  whatever the registered :data:`Command` answers
                                    (``calibrate``: :mod:`agent.service.calibration`)
    anything else               ->  {"ok": false, "error": "..."}

Events reach tail readers through :meth:`StatusServer.publish`, called by the main loop for every event
written to the outbox; it never blocks (each reader has a bounded queue).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import stat
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.flow.events import Event
from agent.flow.liveness import LoopStamp
from agent.wire.contract import body, iso_ms

log = logging.getLogger(__name__)

SOCKET_MODE = 0o660
DIR_MODE = 0o750
MAX_CLIENTS = 8
TAIL_QUEUE = 256
REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 1024

Snapshot = Callable[[], Mapping[str, Any]]


class Conversation:
    """One client connection as a registered :data:`Command` sees it."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn

    def send(self, doc: Mapping[str, Any]) -> None:
        """One JSON line to the client (raises OSError when it left)."""
        _send_line(self._conn, doc)

    def closed(self) -> bool:
        """True once the client hung up (Ctrl-C on the command); never waits."""
        timeout = self._conn.gettimeout()
        self._conn.settimeout(0.0)  # a socket with a timeout would wait that long for the peek
        try:
            return _closed_by_peer(self._conn)
        finally:
            self._conn.settimeout(timeout)


Command = Callable[[Mapping[str, Any], Conversation], None]
"""Serves one request (the parsed JSON line) on its connection, in the client's thread."""


class StatusServerError(Exception):
    """The socket cannot be created; the message says what to check."""


def event_line(event: Event, topic: str | None = None) -> dict[str, Any]:
    """The JSON-ready view of an event for ``tail`` (same fields as on the wire, no envelope ids)."""
    out: dict[str, Any] = {"ts": iso_ms(event.at), "kind": event.kind}
    if topic is not None:
        out["topic"] = topic
    out.update(body(event))
    return out


def _send_line(conn: socket.socket, doc: Mapping[str, Any]) -> None:
    conn.sendall(json.dumps(doc, separators=(",", ":"), default=str).encode() + b"\n")


def _closed_by_peer(conn: socket.socket) -> bool:
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class _Reader:
    """One connected ``tail`` client: a bounded queue of lines and a count of what it missed."""

    def __init__(self) -> None:
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=TAIL_QUEUE)
        self.dropped = 0


class StatusServer:
    """Serves ``status`` snapshots and ``tail`` streams on a local Unix socket (own threads)."""

    def __init__(
        self,
        path: Path,
        snapshot: Snapshot,
        topic_of: Callable[[str], str] | None = None,
        commands: Mapping[str, Command] | None = None,
    ) -> None:
        self.path = Path(path)
        self._snapshot = snapshot
        self._topic_of = topic_of
        self._commands = dict(commands or {})
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.loop = LoopStamp("status-server")
        """The accept loop's liveness (it turns at least every 0.5 s: the accept timeout)."""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._readers: list[_Reader] = []
        self._clients = threading.BoundedSemaphore(MAX_CLIENTS)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Create the socket and serve in a background thread. Raises :class:`StatusServerError`."""
        parent = self.path.parent
        try:
            if not parent.exists():
                parent.mkdir(mode=DIR_MODE, parents=True)
                os.chmod(parent, DIR_MODE)  # mkdir's mode is filtered by the umask
            self._remove_stale()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.bind(str(self.path))
            os.chmod(self.path, SOCKET_MODE)
            sock.listen(MAX_CLIENTS)
            sock.settimeout(0.5)
        except OSError as exc:
            raise StatusServerError(
                f"cannot create the status socket {self.path}: {exc.strerror or exc}; check that "
                f"{parent} exists and is writable by the agent's user (systemd RuntimeDirectory)"
            ) from None
        self._sock = sock
        self.loop.turn()
        self._thread = threading.Thread(target=self._accept_loop, name="status-server", daemon=True)
        self._thread.start()
        log.info("status socket listening at %s", self.path)

    def loops(self) -> list[LoopStamp]:
        """The accept loop's stamp from start to stop (a loop that died stops turning)."""
        return [self.loop] if self._thread is not None and not self._stop.is_set() else []

    def _remove_stale(self) -> None:
        try:
            st = self.path.lstat()
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise OSError(17, f"{self.path} exists and is not a socket; remove it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.path))
        except ConnectionRefusedError:
            self.path.unlink()  # left over from a crash
            return
        finally:
            probe.close()
        raise OSError(98, f"another agent is already serving {self.path}; stop it first")

    def stop(self) -> None:
        """Stop serving, end tail streams and remove the socket file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._sock is not None:
            self._sock.close()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._sock = None

    # -- events ----------------------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        """Offer one event to every tail reader; never blocks (counts drops per reader)."""
        with self._lock:
            readers = list(self._readers)
        if not readers:
            return
        topic = self._topic_of(event.kind) if self._topic_of is not None else None
        line = {"event": event_line(event, topic)}
        for reader in readers:
            try:
                reader.lines.put_nowait(line)
            except queue.Full:
                with self._lock:
                    reader.dropped += 1

    # -- serving ---------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            self.loop.turn()
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                log.exception("status socket accept failed")
                continue
            if not self._clients.acquire(blocking=False):
                with contextlib.suppress(OSError):
                    _send_line(conn, {"ok": False, "error": "too many clients; try again"})
                conn.close()
                continue
            threading.Thread(
                target=self._serve, args=(conn,), name="status-client", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(REQUEST_TIMEOUT_S)
                request = self._read_request(conn)
                if request is None:
                    return
                cmd = request.get("cmd")
                if cmd == "status":
                    _send_line(conn, {"ok": True, "status": dict(self._snapshot())})
                elif cmd == "tail":
                    self._tail(conn)
                elif isinstance(cmd, str) and cmd in self._commands:
                    self._commands[cmd](request, Conversation(conn))
                else:
                    known = "|".join(["status", "tail", *self._commands])
                    _send_line(conn, {"ok": False, "error": f"unknown cmd {cmd!r}; use {known}"})
        except OSError:
            pass  # client went away
        except Exception:
            log.exception("status request failed")
        finally:
            self._clients.release()

    def _read_request(self, conn: socket.socket) -> dict[str, Any] | None:
        data = b""
        while b"\n" not in data and len(data) <= MAX_REQUEST_BYTES:
            chunk = conn.recv(MAX_REQUEST_BYTES)
            if not chunk:
                break
            data += chunk
        try:
            doc = json.loads(data.split(b"\n", 1)[0])
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            _send_line(conn, {"ok": False, "error": 'send one JSON line like {"cmd": "status"}'})
            return None
        return doc

    def _tail(self, conn: socket.socket) -> None:
        reader = _Reader()
        with self._lock:
            self._readers.append(reader)
        try:
            _send_line(conn, {"ok": True, "tail": True})
            conn.settimeout(None)
            while not self._stop.is_set():
                try:
                    line = reader.lines.get(timeout=0.5)
                except queue.Empty:
                    if _closed_by_peer(conn):
                        return
                    continue
                with self._lock:
                    dropped, reader.dropped = reader.dropped, 0
                if dropped:
                    _send_line(conn, {"dropped": dropped})
                _send_line(conn, line)
        finally:
            with self._lock:
                self._readers.remove(reader)
