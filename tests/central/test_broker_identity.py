"""Client ids tied to credentials: the mosquitto settings and ACL of docs/INTEGRATION.md ("Broker
settings and ACL"), taken from the doc as written (paths and ports replaced), on a real mosquitto
with per-desk users (``mosquitto_passwd``) and with client certificates (mutual TLS).

A box holding valid credentials of its own asks for the collector's client id, or another desk's:
with the documented settings it gets its own session instead, so the collector's persistent session
(and the events queued in it) survives and the other desk's Will is never published. The same
scenarios without ``use_username_as_clientid`` show the attack working, so these tests can fail.
The recommended ACL lets a box publish the agent's real Home Assistant discovery configs.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent.wire.contract import Identity, WireMessage
from agent.wire.discovery import Entities, config_messages, removal_messages
from tests.broker import Broker, free_port
from tests.central.test_integration_doc import fenced
from tests.central.wire import PREFIX, encoded, identity, status, temperature
from tests.pki import client_cert, make_pki

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SECTION = "## Broker settings and ACL"
COLLECTOR = "triage-central"
BOX = "clinic-042-desk-1"
"""The attacker: a box with valid credentials of its own (the doc's example box)."""
VICTIM = "clinic-042-desk-2"
HA = "clinic-042-ha"
T0 = 1_795_000_000.0
HARDENING = "use_username_as_clientid true"


def password(user: str) -> str:
    return f"{user}-secret"


@dataclass
class District:
    """A mosquitto running the doc's configuration: listener name -> port, CA, client certs."""

    broker: Broker
    ports: dict[str, int]
    ca: Path
    certs: dict[str, tuple[Path, Path]]


def doc_config(
    tmp: Path, pki: dict[str, Path], ports: dict[str, int], hardened: bool
) -> tuple[list[str], str]:
    """The doc's mosquitto.conf lines (ports, paths replaced; without ``use_username_as_clientid``
    when not ``hardened``) and its ACL with a second desk's block made from the example box's."""
    conf, acl = fenced("INTEGRATION.md", SECTION, "conf")
    assert conf.count(HARDENING) == 2, "both listeners tie the client id to the credential"
    for doc_path, real in (
        ("/etc/mosquitto/passwd", tmp / "passwd"),
        ("/etc/mosquitto/acl", tmp / "acl"),
        ("/etc/mosquitto/certs/broker.pem", pki["srv.pem"]),
        ("/etc/mosquitto/certs/broker.key", pki["srv.key"]),
        ("/etc/mosquitto/certs/ca.pem", pki["ca.pem"]),
        ("listener 8883\n", f"listener {ports['password']} 127.0.0.1\n"),
        ("listener 8884\n", f"listener {ports['mtls']} 127.0.0.1\n"),
    ):
        assert doc_path in conf, f"the doc's mosquitto.conf no longer has {doc_path!r}"
        conf = conf.replace(doc_path, str(real) if isinstance(real, Path) else real)
    assert "/etc/mosquitto" not in conf, conf
    lines = [line for line in conf.splitlines() if hardened or line.strip() != HARDENING]
    blocks = acl.split("\n\n")
    box = [b for b in blocks if f"user {BOX}\n" in b]
    assert len(box) == 1, acl
    victim = box[0].replace(BOX, VICTIM).replace("clinic-042/desk-1", "clinic-042/desk-2")
    return lines, acl + "\n" + victim + "\n"


@pytest.fixture(scope="module")
def certs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Path], dict[str, tuple[Path, Path]]]:
    """A throwaway CA, the broker's certificate and a client certificate per user (CN = user)."""
    d = tmp_path_factory.mktemp("identity")
    pki = make_pki(d / "pki")
    users = (BOX, VICTIM, COLLECTOR, HA)
    return pki, {u: client_cert(d / "pki", pki["ca.key"], pki["ca.pem"], u) for u in users}


@pytest.fixture
def district(
    tmp_path: Path,
    broker_factory: Callable[..., Broker],
    certs: tuple[dict[str, Path], dict[str, tuple[Path, Path]]],
) -> Callable[[bool], District]:
    """Start the doc's broker (``hardened`` False: without ``use_username_as_clientid``)."""
    pki, clients = certs

    def start(hardened: bool) -> District:
        ports = {"password": free_port(), "mtls": free_port()}
        lines, acl = doc_config(tmp_path, pki, ports, hardened)
        (tmp_path / "acl").write_text(acl)
        users = [line.split()[1] for line in acl.splitlines() if line.startswith("user ")]
        assert {BOX, VICTIM, COLLECTOR, HA} <= set(users), users
        pw = tmp_path / "passwd"
        pw.unlink(missing_ok=True)
        for i, user in enumerate(users):
            flags = ["-b", "-c"] if i == 0 else ["-b"]
            subprocess.run(["mosquitto_passwd", *flags, str(pw), user, password(user)], check=True)
        broker = broker_factory(lines)
        for port in ports.values():  # the harness waited for its own listener only
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"mosquitto is not listening on {port}"
                    time.sleep(0.05)
        return District(broker, ports, pki["ca.pem"], clients)

    return start


class Conn:
    """One MQTT 5 client on a listener of the district broker, recording what happens to it."""

    def __init__(
        self,
        d: District,
        listener: str,
        user: str,
        client_id: str,
        *,
        clean_start: bool = True,
        expiry: int = 0,
        will: WireMessage | None = None,
        username: str | None = None,
    ) -> None:
        """``user``: whose credentials (password, or client certificate on ``mtls``);
        ``username``: the MQTT user name sent on ``mtls`` (the broker should ignore it)."""
        self.user = user
        self.messages: list[tuple[str, bytes]] = []
        self.disconnects: list[str] = []
        self.acks: dict[int, ReasonCode] = {}
        self.granted: list[ReasonCode] = []
        self.connack: ReasonCode | None = None
        self.session_present = False
        self._cond = threading.Condition()
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        if listener == "password":
            c.tls_set(ca_certs=str(d.ca))
            c.username_pw_set(user, password(user))
        else:
            key, pem = d.certs[user]
            c.tls_set(ca_certs=str(d.ca), certfile=str(pem), keyfile=str(key))
            if username is not None:
                c.username_pw_set(username, password(username))
        if will is not None:
            c.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_publish = self._on_publish
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = expiry
        self.client = c
        c.connect("127.0.0.1", d.ports[listener], clean_start=clean_start, properties=props)
        c.loop_start()
        self.wait(lambda: self.connack is not None, f"no CONNACK for {user} as {client_id}")

    def accepted(self) -> bool:
        """The broker accepted the connection."""
        return self.connack is not None and not self.connack.is_failure

    def _on_connect(self, c: mqtt.Client, u: Any, flags: Any, rc: ReasonCode, p: Any) -> None:
        with self._cond:
            self.connack = rc
            self.session_present = bool(flags.session_present)
            self._cond.notify_all()

    def _on_disconnect(self, c: mqtt.Client, u: Any, f: Any, rc: ReasonCode, p: Any) -> None:
        with self._cond:
            self.disconnects.append(str(rc))
            self._cond.notify_all()

    def _on_message(self, c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self._cond.notify_all()

    def _on_subscribe(
        self, c: mqtt.Client, u: Any, mid: int, rcs: list[ReasonCode], p: Any
    ) -> None:
        with self._cond:
            self.granted.extend(rcs)
            self._cond.notify_all()

    def _on_publish(self, c: mqtt.Client, u: Any, mid: int, rc: ReasonCode, p: Any) -> None:
        with self._cond:
            self.acks[mid] = rc
            self._cond.notify_all()

    def wait(self, predicate: Callable[[], bool], why: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                assert left > 0, why
                self._cond.wait(left)

    def subscribe(self, *filters: str) -> list[ReasonCode]:
        before = len(self.granted)
        self.client.subscribe([(f, 1) for f in filters])
        self.wait(lambda: len(self.granted) >= before + len(filters), f"no SUBACK for {filters}")
        return self.granted[before:]

    def publish(self, msgs: list[WireMessage]) -> list[ReasonCode]:
        """Publish at QoS 1 and return each PUBACK's reason code."""
        mids = [self.client.publish(m.topic, m.payload, qos=1, retain=m.retain).mid for m in msgs]
        self.wait(lambda: all(m in self.acks for m in mids), f"no PUBACK for {self.user}")
        return [self.acks[m] for m in mids]

    def ids(self) -> set[str]:
        """The event ids received."""
        with self._cond:
            return {json.loads(p)["id"] for _, p in self.messages if p.startswith(b"{")}

    def settle(self, quiet_s: float = 0.5, timeout: float = 15) -> None:
        """Until nothing new arrived for ``quiet_s``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = -1
            while len(self.messages) != seen and time.monotonic() < deadline:
                seen = len(self.messages)
                self._cond.wait(quiet_s)

    def close(self) -> None:
        """A clean DISCONNECT (no Will; a persistent session stays on the broker)."""
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self) -> None:
        """The connection ends without DISCONNECT, as a lost link: the broker sends the Will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()


LISTENERS = ["password", "mtls"]
MODES = [pytest.param(True, id="documented"), pytest.param(False, id="without-clientid-tie")]


@pytest.mark.parametrize("hardened", MODES)
@pytest.mark.parametrize("listener", LISTENERS)
def test_a_box_cannot_take_over_the_collectors_session(
    district: Callable[[bool], District], listener: str, hardened: bool
) -> None:
    d = district(hardened)
    # On mtls the attacker also sends the collector's user name: the certificate's CN wins.
    as_collector = COLLECTOR if listener == "mtls" else None

    def collector() -> Conn:
        c = Conn(d, listener, COLLECTOR, COLLECTOR, clean_start=False, expiry=3600)
        assert c.accepted(), c.connack
        # As `triage-central collect --share-group district`: shared events, unshared status.
        granted = c.subscribe(f"$share/district/{PREFIX}/#", f"{PREFIX}/+/+/status")
        assert not any(r.is_failure for r in granted), granted
        return c

    desk = Conn(d, listener, VICTIM, VICTIM)
    events = encoded([temperature(T0 + i) for i in range(250)], identity("clinic-042", "desk-2"))
    live, queued = events[:50], events[50:]

    # 1. Collector connected; a box connects under its client id, then the desk publishes.
    central = collector()
    attacker = Conn(d, listener, BOX, COLLECTOR, clean_start=True, expiry=0, username=as_collector)
    assert attacker.accepted(), attacker.connack
    time.sleep(0.5)
    assert all(not rc.is_failure for rc in desk.publish(live))
    central.settle()
    attacker.close()
    if hardened:
        assert central.disconnects == [], "the collector lost its connection to the attacker"
        assert {json.loads(m.payload)["id"] for m in live} <= central.ids()
        log = d.broker.log()
        assert "already connected, closing old connection" not in log
        assert log.count(f" as {BOX} (") == 1, "the attacker got its own client id"
    else:
        assert central.disconnects, "without the setting the attacker should have cut it off"
        assert not central.ids() & {json.loads(m.payload)["id"] for m in live}
        central = collector()  # back, a fresh session, for part 2

    # 2. Collector away (its session keeps what arrives); a box connects under its client id with
    # a clean start and leaves; the collector comes back.
    central.close()
    assert all(not rc.is_failure for rc in desk.publish(queued))
    attacker = Conn(d, listener, BOX, COLLECTOR, clean_start=True, expiry=0, username=as_collector)
    assert attacker.accepted(), attacker.connack
    attacker.close()
    back = Conn(d, listener, COLLECTOR, COLLECTOR, clean_start=False, expiry=3600)
    back.settle(1.0)
    got = back.ids() & {json.loads(m.payload)["id"] for m in queued}
    desk.close()
    back.close()
    if hardened:
        assert back.session_present
        assert len(got) == len(queued), f"{len(got)} of {len(queued)} queued events delivered"
    else:
        assert not back.session_present
        assert got == set(), "without the setting the attacker should have emptied the session"


def _offline(conn: Conn, topic: str) -> list[dict[str, Any]]:
    with conn._cond:
        docs = [json.loads(p) for t, p in conn.messages if t == topic and p]
    return [doc for doc in docs if doc.get("state") == "offline"]


@pytest.mark.parametrize("hardened", MODES)
@pytest.mark.parametrize("listener", LISTENERS)
def test_a_box_cannot_take_over_another_desk_or_fire_its_will(
    district: Callable[[bool], District], listener: str, hardened: bool
) -> None:
    d = district(hardened)
    victim_id = identity("clinic-042", "desk-2")
    topic = victim_id.topic("status")
    [will] = encoded([status(T0, "offline", "lost")], victim_id, 100)
    [online] = encoded([status(T0, "online", health_every_s=60)], victim_id, 1)
    watcher = Conn(d, listener, HA, HA)  # the clinic's Home Assistant reads the desks' status
    assert not any(r.is_failure for r in watcher.subscribe(f"{PREFIX}/clinic-042/+/status"))
    victim = Conn(d, listener, VICTIM, VICTIM, will=will)
    assert victim.publish([online])[0].value == 0
    watcher.wait(lambda: any(p == online.payload for _, p in watcher.messages), "no online")

    attacker = Conn(d, listener, BOX, VICTIM, username=VICTIM if listener == "mtls" else None)
    assert attacker.accepted(), attacker.connack
    attacker.drop()
    # A Will on the victim's status topic, forged by a box under its own id: the ACL refuses it.
    forger = Conn(d, listener, BOX, BOX, will=will)
    forger.drop()
    time.sleep(1.0)
    watcher.settle()
    if hardened:
        assert d.broker.log().count(f" as {VICTIM} (") == 1, "only the desk itself has its id"
        assert victim.disconnects == []
        assert _offline(watcher, topic) == [], "a false offline status for the other desk"
        [ok] = victim.publish(encoded([temperature(T0 + 1)], victim_id, 2))
        assert not ok.is_failure
        victim.close()
        assert _offline(watcher, topic) == []
    else:
        assert victim.disconnects, "without the setting the attacker should have cut it off"
        assert [doc["reason"] for doc in _offline(watcher, topic)] == ["lost"]
    watcher.close()


def test_the_recommended_acl_lets_a_box_announce_itself_to_home_assistant(
    district: Callable[[bool], District],
) -> None:
    d = district(True)
    box = Identity(PREFIX, "clinic-042", "desk-1", BOX)
    wanted = Entities(temperature=True, vision=True, zones=("queue", "desk"), staff_zones=("desk",))
    configs = config_messages("homeassistant", box, wanted, "0.1.0")
    assert {m.topic.split("/")[2] for m in configs} == {BOX}
    ha = Conn(d, "password", HA, HA)
    assert not any(r.is_failure for r in ha.subscribe("homeassistant/#", f"{PREFIX}/clinic-042/#"))
    desk = Conn(d, "password", BOX, BOX)
    assert not any(r.is_failure for r in desk.subscribe("homeassistant/status"))
    [online] = encoded([status(T0, "online", health_every_s=60)], box)
    assert [rc.value for rc in desk.publish([online, *configs])] == [0] * (1 + len(configs))
    ha.wait(lambda: {m.topic for m in configs} <= {t for t, _ in ha.messages}, "configs")
    # Home Assistant's birth reaches the box (it then sends its configs again).
    [birth] = ha.publish([WireMessage("homeassistant/status", b"online", retain=False)])
    assert not birth.is_failure
    desk.wait(lambda: ("homeassistant/status", b"online") in desk.messages, "no birth")
    # Not another desk's discovery configs or events.
    other = Identity(PREFIX, "clinic-042", "desk-2", VICTIM)
    forged = [*config_messages("homeassistant", other, wanted, "0.1.0")[:1],
              *encoded([status(T0, "online")], other)]  # fmt: skip
    assert [rc.getName() for rc in desk.publish(forged)] == ["Not authorized"] * 2
    # Removal (discovery switched off): empty retained payloads on its own topics.
    assert all(rc.value == 0 for rc in desk.publish(removal_messages([configs[0].topic])))
    ha.settle()
    assert not {m.topic for m in forged} & {t for t, _ in ha.messages}
    assert (configs[0].topic, b"") in ha.messages
    desk.close()
    ha.close()


def test_a_second_connection_with_the_boxs_own_credentials_replaces_the_first(
    district: Callable[[bool], District],
) -> None:
    """The caveat in the doc: `triage-agent diag` on a running box (client id `<device>-diag`)
    becomes `<device>` and replaces the agent's connection, whose Will is then published."""
    d = district(True)
    desk = identity("clinic-042", "desk-2")
    [will] = encoded([status(T0, "offline", "lost")], desk, 100)
    watcher = Conn(d, "password", HA, HA)
    assert not any(r.is_failure for r in watcher.subscribe(desk.topic("status")))
    agent = Conn(d, "password", VICTIM, VICTIM, will=will)
    diag = Conn(d, "password", VICTIM, f"{VICTIM}-diag")
    assert diag.accepted()
    agent.wait(lambda: bool(agent.disconnects), "the agent's connection was not replaced")
    watcher.wait(lambda: bool(_offline(watcher, desk.topic("status"))), "no Will")
    diag.close()
    watcher.close()
