"""The ``broker`` checks: step-by-step reachability of the MQTT broker.

Each step is tried only if the previous one passed, and each yields one :class:`Check` with the fix
to try when it fails: DNS name resolution, TCP connection, TLS handshake (certificate checked as the
agent checks it), MQTT CONNECT (credentials: CONNACK reason code), and a QoS 1 test publish to the
device's own ``<prefix>/<site>/<desk>/diag`` topic (MQTT 5 brokers answer a refused publish with a
PUBACK reason code such as 0x87 Not authorized). Uses a separate client id (``<device>-diag``).

While the agent runs, the login and publish steps are not tried: the agent's own connection answers
them (its live state: connected since, or its last error). A broker that ties client ids to user
names (``use_username_as_clientid``, docs/INTEGRATION.md) would turn ``<device>-diag`` into
``<device>`` and a second login would replace the agent's connection and publish its Will. The client and TLS context are the publisher's own
(:func:`agent.wire.mqtt_client.make_client`, :func:`~agent.wire.mqtt_client.build_tls_context`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from agent.cli.diag.check import Check, Context, Verdict
from agent.config import AgentConfig
from agent.wire.connect_errors import CLIENT_CERT_MISSING, CLIENT_CERT_REJECTED, tls_text
from agent.wire.contract import Identity
from agent.wire.mqtt_client import build_tls_context, make_client

TIMEOUT_S = 5.0
CLIENT_CERT_WAIT_S = 1.0


def _dns(host: str, port: int) -> tuple[Check, list[Any]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return Check(
            "broker dns",
            "FAIL",
            f"cannot resolve {host!r}: {exc.strerror}",
            "check mqtt.host spelling and the box's DNS (`resolvectl status`); try the IP address",
        ), []
    addrs = sorted({str(i[4][0]) for i in infos})
    return Check("broker dns", "PASS", f"{host} -> {', '.join(addrs)}"), infos


def _tcp(host: str, port: int) -> tuple[Check, socket.socket | None]:
    try:
        sock = socket.create_connection((host, port), timeout=TIMEOUT_S)
    except TimeoutError:
        return Check(
            "broker tcp",
            "FAIL",
            f"no answer from {host}:{port} within {TIMEOUT_S:.0f} s",
            "a firewall drops the traffic or the address is wrong: check mqtt.host/port and "
            "that the clinic network allows outgoing connections to that port",
        ), None
    except OSError as exc:
        return Check(
            "broker tcp",
            "FAIL",
            f"cannot connect to {host}:{port}: {exc.strerror or exc}",
            "the broker is down or listens on another port: check mqtt.port (1883 plain, 8883 "
            "TLS) and that the broker is running",
        ), None
    return Check("broker tcp", "PASS", f"connected to {host}:{port}"), sock


def _tls(cfg: AgentConfig, sock: socket.socket) -> Check:
    tls = cfg.mqtt.tls
    if not tls.enabled:
        verdict: Verdict = "WARN" if cfg.mqtt.port == 8883 else "SKIP"
        return Check(
            "broker tls",
            verdict,
            "TLS is off (events travel unencrypted)",
            "set mqtt.tls.enabled = true and mqtt.port = 8883 unless the network is private"
            if verdict == "WARN" or cfg.mqtt.host not in ("127.0.0.1", "localhost")
            else None,
        )
    try:
        ctx = build_tls_context(cfg.mqtt)
    except (OSError, ssl.SSLError) as exc:
        return Check(
            "broker tls",
            "FAIL",
            f"cannot load the TLS files: {exc}",
            "check mqtt.tls.ca_file / cert_file / key_file exist and are readable PEM files",
        )
    sock.settimeout(TIMEOUT_S)
    try:
        with ctx.wrap_socket(sock, server_hostname=cfg.mqtt.host) as tls_sock:
            version = tls_sock.version()
            cert = tls_sock.getpeercert() or {}
            # With TLS 1.3 the broker's verdict on the client certificate arrives after the
            # handshake: read briefly (a broker waiting for CONNECT just times out).
            tls_sock.settimeout(CLIENT_CERT_WAIT_S)
            with contextlib.suppress(TimeoutError):
                tls_sock.recv(1)
    except ssl.SSLCertVerificationError as exc:
        return Check(
            "broker tls",
            "FAIL",
            f"broker certificate rejected: {exc.verify_message}",
            "set mqtt.tls.ca_file to the CA that signed the broker certificate, and make sure "
            "mqtt.host matches a name in that certificate; check the clock too (see below)",
        )
    except (ssl.SSLError, OSError) as exc:
        cert_problem = tls_text(str(exc))
        if cert_problem == CLIENT_CERT_MISSING:
            return Check(
                "broker tls",
                "FAIL",
                "client certificate missing: the broker requires one and none is configured",
                "set mqtt.tls.cert_file and mqtt.tls.key_file to the box's certificate and key",
            )
        if cert_problem == CLIENT_CERT_REJECTED:
            return Check(
                "broker tls",
                "FAIL",
                f"client certificate rejected by the broker ({exc})",
                f"the broker does not accept {tls.cert_file}: not signed by a CA it trusts, "
                "expired or revoked; ask the broker administrator",
            )
        return Check(
            "broker tls",
            "FAIL",
            f"TLS handshake failed: {exc}",
            "is the port a TLS port (8883)? For mutual TLS check cert_file/key_file",
        )
    expires = cert.get("notAfter")
    detail = f"{version}" + (f", certificate valid until {expires}" if expires else "")
    if tls.insecure_skip_verify:
        return Check(
            "broker tls",
            "WARN",
            detail + " (certificate NOT verified)",
            "set mqtt.tls.insecure_skip_verify = false and configure ca_file",
        )
    return Check("broker tls", "PASS", detail)


_AUTH_FIX = "check mqtt.username / mqtt.password (or TRIAGE_MQTT_USERNAME / TRIAGE_MQTT_PASSWORD)"


def _mqtt(cfg: AgentConfig) -> list[Check]:
    identity = Identity.of(cfg.device, cfg.mqtt)
    client = make_client(cfg.mqtt, f"{identity.device}-diag")
    client.reconnect_delay_set(60, 60)
    connected = threading.Event()
    published = threading.Event()
    result: dict[str, Any] = {}

    def on_connect(
        c: mqtt.Client, u: Any, flags: Any, reason_code: ReasonCode, properties: Any
    ) -> None:
        result["connack"] = reason_code
        connected.set()

    def on_publish(
        c: mqtt.Client, u: Any, mid: int, reason_code: ReasonCode, properties: Any
    ) -> None:
        result["puback"] = reason_code
        published.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    probes: list[Check] = []
    try:
        client.connect(cfg.mqtt.host, cfg.mqtt.port, keepalive=30)
    except (OSError, ssl.SSLError) as exc:
        return [Check("broker login", "FAIL", f"MQTT connection failed: {exc}", _AUTH_FIX)]
    client.loop_start()
    try:
        if not connected.wait(TIMEOUT_S):
            return [
                Check(
                    "broker login",
                    "FAIL",
                    f"no CONNACK within {TIMEOUT_S:.0f} s",
                    "the port may not be an MQTT port; check mqtt.port and mqtt.protocol",
                )
            ]
        rc: ReasonCode = result["connack"]
        if rc.is_failure:
            return [Check("broker login", "FAIL", f"broker refused the login: {rc}", _AUTH_FIX)]
        who = cfg.mqtt.username or "anonymous"
        probes.append(
            Check("broker login", "PASS", f"logged in as {who} (MQTT {cfg.mqtt.protocol})")
        )
        topic = identity.topic("diag")
        payload = json.dumps({"kind": "diag", "device": identity.device, "at": time.time()})
        client.publish(topic, payload, qos=1, retain=False)
        if not published.wait(TIMEOUT_S):
            probes.append(
                Check(
                    "broker publish",
                    "FAIL",
                    f"no PUBACK for a test message on {topic} within {TIMEOUT_S:.0f} s",
                    "the broker may be overloaded or dropping this client; check its log",
                )
            )
        else:
            ack: ReasonCode = result["puback"]
            if ack.is_failure:
                probes.append(
                    Check(
                        "broker publish",
                        "FAIL",
                        f"broker refused a publish on {topic}: {ack}",
                        f"ask the broker administrator to allow user {who!r} to publish on "
                        f"{cfg.mqtt.topic_prefix}/{cfg.device.site}/{cfg.device.desk}/#",
                    )
                )
            elif cfg.mqtt.protocol != "5":
                probes.append(
                    Check(
                        "broker publish",
                        "WARN",
                        f"test message on {topic} acknowledged, but MQTT 3.1.1 cannot report "
                        "a refused publish",
                        "use mqtt.protocol = '5' so permission problems become visible",
                    )
                )
            else:
                probes.append(Check("broker publish", "PASS", f"allowed to publish on {topic}"))
    finally:
        client.disconnect()
        client.loop_stop()
    return probes


def probe_broker(cfg: AgentConfig, login: bool = True) -> list[Check]:
    """DNS, TCP, TLS, login and publish permission, stopping at the first failing step (without
    ``login``, the network path only)."""
    host, port = cfg.mqtt.host, cfg.mqtt.port
    dns, _ = _dns(host, port)
    if dns.verdict == "FAIL":
        return [dns]
    tcp, sock = _tcp(host, port)
    if sock is None:
        return [dns, tcp]
    tls = _tls(cfg, sock)
    sock.close()
    if tls.verdict == "FAIL" or not login:
        return [dns, tcp, tls]
    return [dns, tcp, tls, *_mqtt(cfg)]


def live_connection(cfg: AgentConfig, broker: Any) -> Check:
    """The running agent's own MQTT connection, from its status snapshot."""
    where = f"{cfg.mqtt.host}:{cfg.mqtt.port}"
    if not isinstance(broker, dict):
        return Check("broker login", "WARN", "the running agent did not say", "")
    if broker.get("connected"):
        rejected = broker.get("rejected") or 0
        detail = f"the running agent is connected to {where}"
        if rejected:
            return Check(
                "broker login",
                "WARN",
                f"{detail}; the broker refused {rejected} of its messages",
                "check the broker's ACL allows this box's topics (docs/INTEGRATION.md)",
            )
        return Check("broker login", "PASS", detail + " (not tried again: it would replace it)")
    error = broker.get("last_error") or "no reason given yet"
    return Check(
        "broker login",
        "FAIL",
        f"the running agent is not connected to {where}: {error}",
        "fix what the reason names (the steps above test the network path); the agent retries "
        "on its own every few seconds",
    )


def check(ctx: Context) -> list[Check]:
    """Registry entry: every step, or none with ``--no-broker``; with the agent running, its own
    connection stands for the login and publish steps."""
    if not ctx.broker:
        return []
    if ctx.live is None:
        return probe_broker(ctx.cfg)
    path = probe_broker(ctx.cfg, login=False)
    if any(c.verdict == "FAIL" for c in path):
        return path
    return [*path, live_connection(ctx.cfg, ctx.live.get("broker"))]
