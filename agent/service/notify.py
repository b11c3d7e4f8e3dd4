"""The systemd notify protocol: telling the service manager we are ready, alive, busy or stopping.

:class:`Notifier` sends ``READY=1``, ``WATCHDOG=1``, ``STATUS=...`` and ``STOPPING=1`` datagrams to
``$NOTIFY_SOCKET``. It uses systemd-python's :func:`systemd.daemon.notify` (a wrapper of
``sd_notify(3)``) when installed, and otherwise writes the datagram itself to the ``AF_UNIX`` socket,
including Linux abstract sockets (a path starting with ``@``). Without ``NOTIFY_SOCKET`` (not run by
systemd, or ``Type=simple``) every method is a cheap no-op, so callers never need to check. The
main loop's periodic ``WATCHDOG=1`` and ``STATUS=`` go out non-blocking (:meth:`Notifier.send_nowait`):
``sd_notify`` blocks while the manager's datagram queue is full, and the main loop must never wait
on it (a dropped pet is counted and logged; a stalled loop would stop screening).

The main loop decides *when* to pet the watchdog: on each tick, while every internal thread's loop
has turned recently (:mod:`agent.flow.liveness`). A missing device does not stop the pets (its thread
keeps turning while it reconnects); a stuck thread does, and systemd restarts the service after
``WatchdogSec``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Literal

log = logging.getLogger(__name__)

Backend = Literal["systemd-python", "socket", "none"]

_Sender = Callable[[str], bool]


def _load_systemd_notify() -> _Sender | None:
    try:
        from systemd import daemon  # noqa: PLC0415 - optional dependency
    except ImportError:  # pragma: no cover - depends on the installation
        return None

    def send(message: str) -> bool:
        return bool(daemon.notify(message))

    return send


def socket_address(notify_socket: str) -> str | bytes:
    """The ``connect``/``sendto`` address for a ``NOTIFY_SOCKET`` value (``@x`` is abstract)."""
    if notify_socket.startswith("@"):
        return b"\0" + notify_socket[1:].encode()
    return notify_socket


class Notifier:
    """Sends sd_notify messages; every method is a no-op when ``NOTIFY_SOCKET`` is unset.

    ``environ`` defaults to :data:`os.environ`. ``prefer_systemd`` chooses systemd-python when it is
    installed and the socket comes from the real process environment (sd_notify only reads that);
    otherwise the datagram is written directly.
    """

    def __init__(
        self, environ: Mapping[str, str] | None = None, *, prefer_systemd: bool = True
    ) -> None:
        env = os.environ if environ is None else environ
        self._socket_path = env.get("NOTIFY_SOCKET") or None
        self._watchdog_usec = env.get("WATCHDOG_USEC")
        self._watchdog_pid = env.get("WATCHDOG_PID")
        self._lock = threading.Lock()
        self._full = 0
        self._next_full_log = 0.0
        self._last_status: str | None = None
        self._sender: _Sender | None = None
        self.backend: Backend = "none"
        if self._socket_path is None:
            return
        lib = _load_systemd_notify() if prefer_systemd else None
        if lib is not None and os.environ.get("NOTIFY_SOCKET") == self._socket_path:
            self._sender = lib
            self.backend = "systemd-python"
        else:
            self._sender = self._send_datagram
            self.backend = "socket"

    @property
    def enabled(self) -> bool:
        """True when running under a service manager that listens for notifications."""
        return self._sender is not None

    def _send_datagram(self, message: str, *, wait: bool = True) -> bool:
        assert self._socket_path is not None
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(wait)
                sock.sendto(message.encode("utf-8"), socket_address(self._socket_path))
        except BlockingIOError:
            self._full += 1
            now = time.monotonic()
            if now >= self._next_full_log:
                log.warning(
                    "the service manager's notify queue at %s is full: %d notification(s) "
                    "dropped so far (at most one such line a minute)",
                    self._socket_path,
                    self._full,
                )
                self._next_full_log = now + 60.0
            return False
        except OSError as exc:
            log.warning("cannot notify systemd at %s: %s", self._socket_path, exc)
            return False
        return True

    def send(self, message: str) -> bool:
        """Send one raw notification (``KEY=VALUE`` lines); False when not sent."""
        sender = self._sender
        if sender is None:
            return False
        with self._lock:
            return sender(message)

    def send_nowait(self, message: str) -> bool:
        """Send without ever blocking the caller (the main loop): a notification the service
        manager's full queue cannot take is dropped and counted, never waited for."""
        if self._sender is None:
            return False
        with self._lock:
            return self._send_datagram(message, wait=False)

    def ready(self) -> bool:
        """Configuration valid, sources and models loaded: the service is up (``READY=1``)."""
        return self.send("READY=1")

    def watchdog(self) -> bool:
        """Pet the watchdog (``WATCHDOG=1``); call only while no thread is stuck. Never blocks."""
        return self.send_nowait("WATCHDOG=1")

    def status_line(self, text: str) -> bool:
        """One-line ``STATUS=`` shown by ``systemctl status``; repeated identical text is skipped."""
        line = " ".join(text.split())
        if line == self._last_status:
            return self.enabled
        sent = self.send_nowait(f"STATUS={line}")
        if sent:
            self._last_status = line
        return sent

    def stopping(self, text: str | None = None) -> bool:
        """Shutdown has begun (``STOPPING=1``, optionally with a final status line)."""
        message = "STOPPING=1"
        if text:
            message += "\nSTATUS=" + " ".join(text.split())
        return self.send(message)

    def watchdog_interval_s(self) -> float | None:
        """The ``WatchdogSec`` systemd expects pets within, or None when no watchdog applies.

        Taken from ``WATCHDOG_USEC``; ignored when ``WATCHDOG_PID`` names another process (the
        variables were inherited). Pet at least twice per interval.
        """
        if self._watchdog_usec is None:
            return None
        if self._watchdog_pid is not None:
            try:
                if int(self._watchdog_pid) != os.getpid():
                    return None
            except ValueError:
                return None
        try:
            usec = int(self._watchdog_usec)
        except ValueError:
            return None
        return usec / 1_000_000 if usec > 0 else None
