"""``triage-central collect``: subscribe to the boxes' events and store each distinct one once.

- A persistent MQTT session (MQTT 5 ``clean_start=False`` with a session expiry, or 3.1.1
  ``clean_session=False``) at QoS 1: while the collector is away the broker queues its events.
- Manual acknowledgement: a PUBACK is sent only after the batch holding the message is committed,
  so a collector killed at any moment loses nothing (the broker redelivers what was not acked).
  PUBACKs go out in the order the messages arrived, as MQTT requires.
- De-duplication by event id (a unique constraint, insert-or-ignore): redeliveries, the box's own
  at-least-once replays and the retained status/health re-sent on every subscribe are stored once.
- With ``share_group`` the subscription is ``$share/<group>/<prefix>/#`` so several collectors
  split the load. A broker need not deliver retained messages on a shared subscription, so each
  collector also subscribes (unshared) to the retained ``status`` topics: each status then reaches
  every collector and is stored once. (``health`` is periodic and not worth the triple delivery.)

Untrusted input (central/store/records.py): every message is checked before it is stored. A refused
one is counted by reason, logged at most once a minute per reason, kept in the bounded
``quarantine`` table and **acknowledged**, so the broker does not redeliver it for ever; the next
good event is stored at once. Payloads over ``max_payload`` are refused before parsing (only their
first bytes are kept), and with MQTT 5 the collector tells the broker it takes no packet over
:data:`MAX_PACKET` at all. The database refusing a value quarantines that row only
(central/store/writer.py); a lost database connection is retried every :data:`RETRY_S`.

The writer cannot die silently: anything else it cannot handle sets :attr:`Collector.failed`, and
``triage-central collect`` then exits non-zero (systemd restarts it; nothing unacknowledged is lost).

Threads: paho's network thread receives into a queue; one writer thread commits batches and acks.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import Engine, select
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
    TimeoutError,
)

from central.config import BrokerSettings
from central.lograte import RateLimitedLog
from central.seqgaps import SeqGaps
from central.store.records import HEAD_BYTES, NotAnEventError, Reason, Refused, Row, checked
from central.store.tables import events
from central.store.writer import Docs, store_isolating

log = logging.getLogger(__name__)

BATCH_MAX = 500
BATCH_WAIT_S = 0.05
RETRY_S = 2.0
MAX_PACKET = 1024 * 1024
"""The MQTT 5 Maximum Packet Size the collector announces: a broker drops bigger messages for it
instead of sending them (set ``message_size_limit`` on the broker too: docs/CENTRAL.md)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message as received, with the connection it came on (acks go only to that one)."""

    topic: str
    payload: bytes
    """The payload, or only its first bytes when it is over the size limit (see ``size``)."""
    size: int
    mid: int
    qos: int
    generation: int
    received: float


@dataclass
class CollectorStats:
    """Counters since start."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    """Messages not stored, by :class:`Reason` (``ignored``: diag messages, by design)."""
    quarantined: int = 0
    connects: int = 0
    db_errors: int = 0
    gaps: SeqGaps = field(default_factory=SeqGaps)

    @property
    def not_events(self) -> int:
        """Every message not stored as an event (refused or ignored)."""
        return sum(self.refused.values())

    def summary(self) -> str:
        """One line for the log: what came in and where it went."""
        refused = ", ".join(f"{k} {v}" for k, v in sorted(self.refused.items())) or "none"
        gaps = self.gaps.desks_with_gaps()
        return (
            f"received {self.received}, stored {self.stored}, duplicates {self.duplicates}, "
            f"refused {self.not_events} ({refused}), quarantined {self.quarantined}, "
            f"sequence numbers missing {self.gaps.missing} on {len(gaps)} desks"
            + (f" (most: {gaps[0][0]}/{gaps[0][1]} {gaps[0][2]})" if gaps else "")
            + f", database errors {self.db_errors}"
        )


def subscriptions(cfg: BrokerSettings, known: Iterable[tuple[str, str]] = ()) -> list[str]:
    """The topic filters: all events (shared if configured), plus the retained status when shared,
    plus with ``exact_status`` the exact status and health topics of each known desk (for brokers
    that send no retained messages to wildcard filters, e.g. RabbitMQ)."""
    prefix = cfg.topic_prefix
    out = [f"{prefix}/#"]
    if cfg.share_group is not None:
        out = [f"$share/{cfg.share_group}/{prefix}/#", f"{prefix}/+/+/status"]
    if cfg.exact_status:
        for site, desk in sorted(set(known)):
            out += [f"{prefix}/{site}/{desk}/status", f"{prefix}/{site}/{desk}/health"]
    return out


def known_desks(engine: Engine) -> list[tuple[str, str]]:
    """Every (site, desk) with a stored event."""
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.site, events.c.desk).distinct()).all()
    return [(str(r[0]), str(r[1])) for r in rows]


def _tls_context(cfg: BrokerSettings) -> ssl.SSLContext:
    tls = cfg.tls
    ctx = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if tls.cert_file is not None and tls.key_file is not None:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _transient(exc: SQLAlchemyError) -> bool:
    """A lost or busy database (retry), as opposed to a broken schema or a bug (stop)."""
    return isinstance(exc, OperationalError | InterfaceError | DisconnectionError | TimeoutError)


class Collector:
    """Runs until :meth:`stop`; :meth:`start` connects (with automatic reconnects)."""

    def __init__(self, cfg: BrokerSettings, engine: Engine, tz: str | None = None) -> None:
        self.cfg = cfg
        self.engine = engine
        self.tz = tz
        """The district time zone of the daily rollups (None: the one the database records)."""
        self.stats = CollectorStats()
        self.subscribed = threading.Event()
        self.failed: BaseException | None = None
        """Set when the writer stopped on an error it cannot handle (the process must exit)."""
        self._refusals = RateLimitedLog(log)
        self._queue: queue.Queue[Incoming] = queue.Queue()
        self._generation = 0
        self._stopping = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="central-writer", daemon=True)
        v5 = cfg.protocol == "5"
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
            reconnect_on_failure=True,
        )
        if cfg.username is not None:
            pw = cfg.password.get_secret_value() if cfg.password is not None else None
            self.client.username_pw_set(cfg.username, pw)
        if cfg.tls.enabled:
            self.client.tls_set_context(_tls_context(cfg))
            if cfg.tls.insecure_skip_verify:
                self.client.tls_insecure_set(True)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # --- paho thread ---------------------------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        if rc.is_failure:
            log.error("broker refused the connection: %s", rc)
            return
        self._generation += 1
        self.stats.connects += 1
        present = bool(getattr(flags, "session_present", False))
        log.info(
            "connected to %s:%d as %s (session %s)",
            self.cfg.host,
            self.cfg.port,
            self.cfg.client_id,
            "resumed" if present else "new",
        )
        known: list[tuple[str, str]] = []
        if self.cfg.exact_status:
            try:
                known = [*known_desks(self.engine), *self.cfg.desks]
            except SQLAlchemyError as exc:
                log.error("cannot read the known desks (%s); subscribing to the inventory", exc)
                known = list(self.cfg.desks)
        client.subscribe([(t, 1) for t in subscriptions(self.cfg, known)])

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        if not self._stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", rc)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, rcs: list[ReasonCode], props: Any
    ) -> None:
        bad = [str(r) for r in rcs if r.is_failure]
        if bad:
            log.error("subscription refused: %s (check the broker's ACL)", ", ".join(bad))
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers check topics are UTF-8; this one did not
            topic = bytes(msg._topic).decode("utf-8", "backslashreplace")
        size = len(msg.payload)
        payload = bytes(msg.payload if size <= self.cfg.max_payload else msg.payload[:HEAD_BYTES])
        self._queue.put(
            Incoming(topic, payload, size, msg.mid, msg.qos, self._generation, time.time())
        )

    # --- writer thread -------------------------------------------------------------------------
    def _next_batch(self) -> list[Incoming]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + BATCH_WAIT_S
        while len(batch) < BATCH_MAX:
            left = deadline - time.monotonic()
            try:
                batch.append(
                    self._queue.get(timeout=max(left, 0)) if left > 0 else self._queue.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _refuse(self, m: Incoming, exc: NotAnEventError) -> Refused | None:
        """Count ``exc``, log it (rate-limited) and return the quarantine row (None: ignored)."""
        reason = str(exc.reason)
        self.stats.refused[reason] = self.stats.refused.get(reason, 0) + 1
        if exc.reason is Reason.IGNORED:
            return None
        self._refusals.warning(reason, "refused (%s): %s", reason, exc.detail)
        return Refused.of(m.topic, m.payload, m.size, exc, m.received)

    def _rows(self, batch: list[Incoming]) -> tuple[list[Row], list[Refused], Docs]:
        rows: list[Row] = []
        refused: list[Refused] = []
        docs: dict[str, dict[str, Any]] = {}
        for m in batch:
            try:
                if m.size > self.cfg.max_payload:  # refused on its size, before any parsing
                    raise NotAnEventError(
                        Reason.OVERSIZE,
                        f"{m.topic[:120]!r}: payload of {m.size} bytes "
                        f"(limit {self.cfg.max_payload})",
                    )
                row, doc = checked(
                    self.cfg.topic_prefix, m.topic, m.payload, m.received, self.cfg.max_payload
                )
                rows.append(row)
                docs[row.event_id] = doc
            except NotAnEventError as exc:
                q = self._refuse(m, exc)
                if q is not None:
                    refused.append(q)
        return rows, refused, docs

    def _commit(self, rows: list[Row], refused: list[Refused], docs: Docs) -> frozenset[str]:
        """Store ``rows`` and ``refused``, retrying a lost database until it works or the
        collector stops (then raises); rows the database refuses are quarantined."""
        while True:
            try:
                done = store_isolating(
                    self.engine, rows, refused, self.cfg.quarantine_keep, tz=self.tz, docs=docs
                )
            except SQLAlchemyError as exc:
                if not _transient(exc):
                    raise
                self.stats.db_errors += 1
                self._refusals.warning(
                    "db", "database write failed (%s); retrying every %.0f s", exc, RETRY_S
                )
                if self._stopping.wait(RETRY_S):
                    raise
                continue
            for q in done.refused:
                self.stats.refused[q.reason] = self.stats.refused.get(q.reason, 0) + 1
                self._refusals.warning(q.reason, "refused (%s): %s", q.reason, q.detail)
            self.stats.quarantined += len(refused) + len(done.refused)
            return done.new

    def _write_loop(self) -> None:
        try:
            self._write_batches()
        except BaseException as exc:
            self.failed = exc
            if self._stopping.is_set() and isinstance(exc, SQLAlchemyError):
                log.error("stopping with messages unstored; the broker will redeliver them")
            else:
                log.critical(
                    "the writer stopped: %s: %s; nothing unstored was acknowledged",
                    type(exc).__name__,
                    exc,
                    exc_info=exc,
                )

    def _write_batches(self) -> None:
        while True:
            batch = self._next_batch()
            if not batch:
                if self._stopping.is_set():
                    return
                continue
            rows, refused, docs = self._rows(batch)
            new = self._commit(rows, refused, docs)
            self.stats.received += len(batch)
            self.stats.stored += len(new)
            self.stats.duplicates += len(rows) - len(new)
            for r in rows:
                if r.event_id in new:
                    online = r.kind == "status" and r.state == "online"
                    self.stats.gaps.add(r.site, r.desk, r.device, r.seq, online)
            generation = self._generation
            for m in batch:
                # An ack on a newer connection could hit a reused packet id: the broker resends
                # the message on the new connection instead and that copy is acked then.
                if m.qos > 0 and m.generation == generation:
                    self.client.ack(m.mid, m.qos)

    # --- control -------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (returns at once; paho retries in the background) and start writing."""
        self._writer.start()
        props: Properties | None = None
        if self.cfg.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.cfg.session_expiry_s
            props.ReceiveMaximum = self.cfg.receive_maximum
            props.MaximumPacketSize = MAX_PACKET
            self.client.connect_async(
                self.cfg.host,
                self.cfg.port,
                keepalive=self.cfg.keepalive_s,
                clean_start=False,
                properties=props,
            )
        else:
            self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()

    def stop(self, timeout: float = 10.0) -> None:
        """Commit and ack what was received, then disconnect (the session stays on the broker)."""
        deadline = time.monotonic() + timeout
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stopping.set()
        self._writer.join(max(deadline - time.monotonic(), 0.1))
        self.client.disconnect()
        self.client.loop_stop()
