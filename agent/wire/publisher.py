"""MQTT publishing: drains the outbox into the broker with paho-mqtt 2.x, QoS 1, in sequence order.

Threads, both watched by the service's watchdog through their loop stamps (:meth:`Publisher.loops`):

- ``mqtt-network`` (:meth:`Publisher._network`, in place of paho's ``loop_start``): paho's network
  loop one bounded turn at a time (``client.loop``, at most :data:`TURN_S`), connection attempts
  (the first at once, then :func:`reconnect_backoff`: jittered delays from ``mqtt.reconnect_min_s``
  to ``reconnect_max_s`` but never above :data:`~agent.wire.mqtt_client.RECONNECT_CAP_S`, reset by a CONNACK; timed on the
  monotonic clock), and every paho callback. It turns its stamp every turn,
  connected, reconnecting or waiting, so a broker that is down or silent is a degraded state; a
  callback or call that never returns stops the stamp and so the pets. A connection attempt may
  hold the loop longer (DNS has only the system resolver's timeouts): :data:`CONNECT_STUCK_AFTER_S`.
  An unexpected exception is counted, logged (rate-limited), the link closed and made again.
- ``mqtt-drain``: hands at most :data:`WINDOW` outbox messages at a time to paho.

A message is deleted from the outbox only when its PUBACK arrives (deletions are batched:
:data:`~agent.wire.acks.ACK_BATCH` messages or :data:`~agent.wire.acks.ACK_FLUSH_S` seconds, one transaction each, so a replayed
backlog costs one disk sync per batch; a crash in between only re-sends the few acknowledged
messages not yet deleted). Messages in flight when the connection drops are re-sent by paho after
reconnecting (QoS 1 DUP); a killed process replays them from the outbox. Delivery is therefore
at-least-once: subscribers drop duplicates by event ``id``.

Availability (the rule is in docs/EVENTS.md: the retained ``status`` is authoritative): before every
connection attempt the Will is set to a retained ``offline``/``lost``, the ``online`` birth
published once connected taking the number just before the Will's; a clean stop publishes
``stopping``, flushes the outbox for a bounded time, then a retained ``offline``/``stopped``
acknowledged by the broker before disconnecting (so the Will is not sent).

Sequence numbers and failed attempts: the birth's and the Will's numbers are reserved (persisted
by the outbox) once, then reused by every attempt until one is answered with a CONNACK, so a broker
outage of any length costs two numbers, not two per attempt. They are given up (fresh ones taken
for the next attempt) only when the broker may have started a session with them: a CONNACK
(connected), or a connection closed after the CONNECT went out without an answer (the broker
could have accepted it and may publish that Will). An attempt that never reached the broker (refused,
DNS, timeout, TLS) or that the broker refused with a reason code cannot have published anything.
A restart never reuses one: the outbox persisted them, and continues above.

Home Assistant discovery (:mod:`agent.wire.discovery`), when given: its configs (or removals) are
published directly, retained, after every birth and whenever Home Assistant's own birth topic says
``online``; they are configuration, not events, so they never enter the outbox.

Two jobs live beside it: :mod:`agent.wire.mqtt_client` builds the paho client (shared with
``diag``), paces the attempts and picks the protocol; :mod:`agent.wire.acks` keeps the PUBACK
bookkeeping.

One module because what stays here, although over 400 lines, is one paho client's two threads
and its callbacks, which share one lock and one connection's state (the Will, the birth, their
reserved numbers, failed attempts, the drain's window); split, that state would be read and
written across modules.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from agent.flow.events import AvailabilityEvent, AvailabilityReason, AvailabilityState
from agent.flow.liveness import LoopStamp
from agent.wire.acks import ACK_FLUSH_S, AckLedger
from agent.wire.config import MqttConfig
from agent.wire.connect_errors import describe_closed, describe_exception, describe_refusal
from agent.wire.contract import Identity, WireMessage, encode
from agent.wire.discovery import Discovery
from agent.wire.mqtt_client import (
    ProtocolFallback,
    loop_writes,
    make_client,
    reconnect_backoff,
)
from agent.wire.outbox import Outbox

log = logging.getLogger(__name__)

WINDOW = 20
"""Outbox messages handed to paho and not yet acknowledged, at most."""
LOG_EVERY_S = 60.0
TURN_S = 0.5
"""Longest wait for network traffic (or for the next connection attempt) in one network turn."""
CONNECT_STUCK_AFTER_S = 60.0
"""A connection attempt may hold the network loop this long before it counts as stuck: the DNS
lookup is bounded only by the system resolver (resolv.conf ``timeout`` x ``attempts`` per name
server), then TCP connect and TLS handshake 5 s each (paho's ``connect_timeout``)."""


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """What the publisher knows about the broker connection."""

    connected: bool
    since: float
    connects: int
    last_error: str | None
    rejected: int
    """Messages the broker refused (MQTT 5 PUBACK reason code >= 0x80), dropped after logging."""
    failed_attempts: int = 0
    """Connection attempts that failed since start (none of them took a sequence number)."""


class Publisher:
    """Owns the MQTT connection, the network thread and the drain thread."""

    def __init__(
        self,
        cfg: MqttConfig,
        identity: Identity,
        outbox: Outbox,
        health_every_s: float = 60.0,
        discovery: Discovery | None = None,
        models: dict[str, str] | None = None,
    ) -> None:
        self._cfg = cfg
        self._models = dict(models) if models else None
        """The loaded models, on every status this publisher sends (docs/EVENTS.md, status)."""
        self._discovery = discovery
        self._identity = identity
        self._outbox = outbox
        self._client = make_client(cfg, identity.device)
        self._lock = threading.Lock()
        self._acks = AckLedger(outbox, self._lock)
        self._last_sent = 0
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._since = time.time()
        self._connects = 0
        self._last_error: str | None = None
        self._thread_errors = 0
        self._thread_logged = 0.0
        self._thread = threading.Thread(target=self._drain, name="mqtt-drain", daemon=True)
        self.loop = LoopStamp("mqtt-drain")
        """The drain loop's liveness: it turns at least every 0.2 s, connected or not."""
        self._network_thread = threading.Thread(
            target=self._network, name="mqtt-network", daemon=True
        )
        self.network = LoopStamp("mqtt-network")
        """The network loop's liveness: it turns at least every :data:`TURN_S`, linked or not."""
        self._closing = threading.Event()
        self._backoff = reconnect_backoff(cfg)
        self._next_attempt = 0.0
        self._health_every_s = max(1, round(health_every_s))
        self._online_seq = 0
        self._reserved: tuple[int, int] | None = None
        """The birth's and the Will's numbers, kept across failed attempts (module docstring)."""
        self._failures = 0
        self._failure_logged = 0.0
        self._logged_reason: str | None = None
        self._answered = False
        self._socket_error: str | None = None
        self._protocol = ProtocolFallback(cfg)
        self._client.on_pre_connect = self._on_pre_connect
        self._client.on_log = self._on_log
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        # paho's external-loop hook: publish() from other threads only queues and wakes the network
        # loop (without it, paho writes to the socket from the publishing thread when no
        # loop_start thread exists, racing the network thread).
        self._client.on_socket_register_write = loop_writes

    # -- public API ------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background and start draining; never blocks on the broker."""
        self._client.connect_async(self._cfg.host, self._cfg.port, keepalive=self._cfg.keepalive_s)
        self.network.turn()
        self._network_thread.start()
        self._thread.start()

    def loops(self) -> list[LoopStamp]:
        """The drain and network loops' stamps from start to stop (a dead thread stops turning)."""
        started = self._thread.ident is not None and not self._stop.is_set()
        return [self.loop, self.network] if started else []

    @property
    def acknowledged(self) -> int:
        """Outbox messages the broker acknowledged since start."""
        return self._acks.acknowledged

    def state(self) -> ConnectionState:
        with self._lock:
            return ConnectionState(
                self._connected.is_set(),
                self._since,
                self._connects,
                self._last_error,
                self._acks.rejected,
                self._failures,
            )

    def stop(self, flush_timeout_s: float = 5.0) -> None:
        """Publish ``stopping``, flush the outbox for up to ``flush_timeout_s`` if connected, then
        the retained ``offline``/``stopped`` (waiting for its PUBACK) and disconnect."""
        deadline = time.monotonic() + flush_timeout_s
        if self._connected.is_set():
            self._publish_direct(self._status("stopping", self._outbox.reserve_seq()))
        while self._connected.is_set() and time.monotonic() < deadline:
            self._acks.flush()
            if self._outbox.depth() == 0:
                break
            self._stop.wait(0.05)  # not yet set: a 50 ms pause (the agent never calls time.sleep)
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._acks.flush()
        if self._connected.is_set():
            offline = self._status("offline", self._outbox.reserve_seq(), reason="stopped")
            info = self._publish_direct(offline)
            try:
                info.wait_for_publish(timeout=max(1.0, deadline - time.monotonic()))
            except (
                RuntimeError,
                ValueError,
            ) as exc:  # the link dropped meanwhile: the Will says it
                log.warning("offline status not confirmed by the broker: %s", exc)
            if not info.is_published():
                log.warning("offline status not confirmed by the broker; it will send the Will")
        self._closing.set()  # first: the network loop must not reconnect once the link closes
        self._client.disconnect()
        self._network_thread.join(timeout=2.0)
        if self._network_thread.is_alive():
            log.warning("thread mqtt-network did not stop within 2 s; leaving it behind")

    # -- internals -------------------------------------------------------------------------------
    def _status(
        self,
        state: AvailabilityState,
        seq: int,
        reason: AvailabilityReason | None = None,
        health_every_s: int | None = None,
    ) -> WireMessage:
        event = AvailabilityEvent(
            at=time.time(),
            state=state,
            reason=reason,
            health_every_s=health_every_s,
            models=self._models,
        )
        return encode(event, self._identity, seq)

    def _on_pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        """Before each connection attempt: the birth's and the Will's numbers (Will last), reserved
        now or kept from failed attempts; the Will's ``ts`` is this attempt's."""
        self._answered = False
        self._socket_error = None
        try:
            if self._reserved is None:
                self._reserved = (self._outbox.reserve_seq(), self._outbox.reserve_seq())
            self._online_seq, will_seq = self._reserved
            will = self._status("offline", will_seq, reason="lost")
            client.will_set(will.topic, will.payload, qos=will.qos, retain=True)
        except Exception as exc:  # paho's network thread must never die in a callback
            self._thread_failed("setting the Will", exc)

    def publish_now(self, msg: WireMessage) -> None:
        """Publish outside the outbox (health while the outbox is failing), if connected."""
        if self._connected.is_set():
            self._publish_direct(msg)

    def _thread_failed(self, where: str, exc: Exception) -> None:
        """Count and log (rate-limited) an unexpected error; the calling thread carries on."""
        with self._lock:
            self._thread_errors += 1
            self._last_error = f"{where}: {type(exc).__name__}: {exc}"
            n = self._thread_errors
        now = time.monotonic()
        if now - self._thread_logged >= LOG_EVERY_S:
            self._thread_logged = now
            log.error("publisher %s failed (#%d, continuing): %s", where, n, exc, exc_info=exc)

    def _publish_direct(self, msg: WireMessage) -> mqtt.MQTTMessageInfo:
        """Publish a status message outside the outbox (its PUBACK is not tracked there)."""
        info = self._client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
        self._acks.direct(info.mid)
        return info

    # -- connection outcomes -------------------------------------------------------------------
    def _failed_attempt(self, reason: str) -> None:
        """Record why an attempt failed; log it when the reason changes, else once a minute."""
        now = time.monotonic()
        with self._lock:
            self._last_error = reason
            self._failures += 1
            n = self._failures
            due = reason != self._logged_reason or now - self._failure_logged >= LOG_EVERY_S
            if due:
                self._logged_reason = reason
                self._failure_logged = now
        if due:
            log.error(
                "cannot connect to broker %s:%s (attempt %d): %s; events wait in the outbox",
                self._cfg.host,
                self._cfg.port,
                n,
                reason,
            )

    def _on_log(self, client: mqtt.Client, userdata: Any, level: int, text: str) -> None:
        if level == mqtt.MQTT_LOG_ERR and "socket" in text:
            self._socket_error = text  # e.g. the TLS alert behind a closed connection

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        self._answered = True
        if reason_code.is_failure:
            reason = describe_refusal(reason_code)
            self._failed_attempt(reason)
            if reason.startswith("protocol"):
                self._protocol.failed(client, reason)
            return
        self._protocol.connected()
        log.info("connected to broker %s:%s", self._cfg.host, self._cfg.port)
        self._reserved = None  # this connection's: the next one takes fresh numbers
        self._publish_direct(
            self._status("online", self._online_seq, health_every_s=self._health_every_s)
        )
        if self._discovery is not None:
            for topic in self._discovery.subscriptions:
                client.subscribe(topic, qos=1)
            self._send_discovery(self._discovery.on_connect())
        with self._lock:
            self._connects += 1
            self._since = time.time()
            self._last_error = None
            self._logged_reason = None
        self._backoff.reset()
        self._connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self._discovery is not None:
            batch = self._discovery.on_message(msg.topic, bytes(msg.payload))
            if batch:
                log.info("Home Assistant is online: publishing the discovery configs again")
            self._send_discovery(batch)

    def _send_discovery(self, batch: list[WireMessage]) -> None:
        """Publish discovery messages directly; once all are acknowledged, tell the discovery."""
        discovery = self._discovery
        if discovery is None or not batch:
            return
        infos = [self._publish_direct(m) for m in batch]

        def confirm() -> None:
            try:
                for info in infos:
                    info.wait_for_publish(timeout=30)
            except (ValueError, RuntimeError) as exc:  # not queued: the link dropped meanwhile
                log.warning("Home Assistant discovery not confirmed: %s", exc)
                return
            if all(info.is_published() for info in infos):
                discovery.acknowledged()

        threading.Thread(target=confirm, name="ha-discovery", daemon=True).start()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        with self._lock:
            self._since = time.time()
            if was and not self._stop.is_set():
                self._last_error = f"disconnected: {reason_code}"
        if was and not self._stop.is_set():
            log.warning("lost the broker connection (%s); events stay in the outbox", reason_code)
        elif not self._answered and not self._stop.is_set():
            reason = describe_closed(self._socket_error)
            if not reason.startswith("TLS"):
                # The CONNECT went out unanswered: the broker may have accepted it (and so may
                # publish that Will). A TLS failure means it never read the CONNECT.
                self._reserved = None
            self._failed_attempt(reason)
            self._protocol.failed(client, reason)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: ReasonCode, properties: Any
    ) -> None:
        try:
            self._acks.acknowledged_mid(mid, reason_code)
        except Exception as exc:  # paho's network thread must never die in a callback
            self._thread_failed("PUBACK handling", exc)

    def _drain(self) -> None:
        while not self._stop.is_set():
            self.loop.turn()
            try:
                self._drain_once()
            except Exception as exc:  # the drain thread must outlive any single failure
                self._thread_failed("drain", exc)
                self._stop.wait(1.0)

    def _drain_once(self) -> None:
        """One turn of the drain loop: flush due deletions, hand the window's room to paho."""
        pending, due = self._acks.flush_due()
        if due:
            self._acks.flush()
        if not self._connected.wait(0.2):
            return
        with self._lock:
            room = WINDOW - len(self._acks.inflight)
            after = self._last_sent
            if room <= 0:  # woken by the next PUBACK
                self._acks.room.wait(ACK_FLUSH_S)
                return
        mark = self._outbox.changes  # before peeking: an append after it ends the wait at once
        batch = self._outbox.peek(after=after, limit=room)
        if not batch:
            self._outbox.wait(ACK_FLUSH_S if pending else 0.2, since=mark)
            return
        for stored in batch:
            msg = stored.message
            info = self._client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                break
            # Queued in paho even if the link just dropped: paho re-sends after reconnecting.
            with self._lock:
                self._last_sent = stored.seq
            self._acks.sent(info.mid, stored.seq, msg)

    # -- the network loop (thread mqtt-network) --------------------------------------------------
    def _network(self) -> None:
        """Turn the network loop until :meth:`stop` has closed the link; never dies of an error."""
        while True:
            self.network.turn()
            try:
                if not self._network_once():
                    return
            except Exception as exc:  # the network thread must outlive any single failure
                self._thread_failed("network loop", exc)
                self._client.disconnect()  # a callback may have stopped half-way: start afresh
                self._closing.wait(1.0)

    def _network_once(self) -> bool:
        """One turn: traffic and callbacks while linked, else wait for or make the next attempt.

        False once stopping and the link is closed (the DISCONNECT written, or no link).
        """
        linked = self._client.socket() is not None
        if linked and self._client.loop(TURN_S) == mqtt.MQTT_ERR_SUCCESS:
            return True
        # no link, or it just went (paho called on_disconnect, or our DISCONNECT is written)
        if self._closing.is_set():
            return False
        left = self._next_attempt - time.monotonic()
        if left > 0:
            self._closing.wait(min(left, TURN_S))
            return True
        self._next_attempt = time.monotonic() + self._backoff.next_delay()
        with self.network.allowing(CONNECT_STUCK_AFTER_S):
            try:  # on_pre_connect sets the Will first; the CONNECT goes out on the next turns
                self._client.reconnect()
            except OSError as exc:  # refused, unreachable, DNS, TLS (ssl errors are OSErrors)
                self._failed_attempt(describe_exception(exc))
        return True
