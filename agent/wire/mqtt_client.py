"""The broker client: a configured paho client, the pace of connection attempts, the protocol to try.

Shared by the publisher and ``diag`` (which connects the same way the service does):
:func:`make_client` (protocol, credentials, TLS), :func:`reconnect_backoff` (jittered delays,
capped at :data:`RECONNECT_CAP_S`) and :class:`ProtocolFallback` (an MQTT 5 CONNECT unanswered or
refused as a protocol: MQTT 3.1.1 next, and back if that fails too).
"""

from __future__ import annotations

import logging
import random
import ssl
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from agent.flow.threaded import JitteredBackoff
from agent.wire.config import MqttConfig, tls_context

log = logging.getLogger("agent.wire.publisher")  # the publisher's lines keep one logger name

RECONNECT_CAP_S = 8.0
"""Longest delay between two connection attempts, whatever ``mqtt.reconnect_max_s`` says: a box is
back within 10 s of its broker's return (this, the TCP and TLS handshakes and the CONNACK), however
long the outage. The jitter (:class:`~agent.flow.threaded.JitteredBackoff`) spreads a fleet's
attempts over these 8 s (tests/test_publisher_reconnect.py: 2,000 boxes, at most about a fifth of
them in any one second)."""


def build_tls_context(cfg: MqttConfig) -> ssl.SSLContext:
    """An SSLContext from ``mqtt.tls``: verification on unless ``insecure_skip_verify``."""
    return tls_context(cfg.tls)


def reconnect_backoff(cfg: MqttConfig, rng: random.Random | None = None) -> JitteredBackoff:
    """The delays between connection attempts: jittered, ``mqtt.reconnect_min_s`` to
    ``reconnect_max_s``, capped at :data:`RECONNECT_CAP_S`."""
    cap = min(cfg.reconnect_max_s, RECONNECT_CAP_S)
    return JitteredBackoff(min(cfg.reconnect_min_s, cap), cap, rng)


def make_client(cfg: MqttConfig, client_id: str) -> mqtt.Client:
    """A configured (not yet connected) paho client: protocol, credentials, TLS."""
    protocol = mqtt.MQTTv5 if cfg.protocol == "5" else mqtt.MQTTv311
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        reconnect_on_failure=True,
    )
    if cfg.username is not None:
        password = cfg.password.get_secret_value() if cfg.password is not None else None
        client.username_pw_set(cfg.username, password)
    if cfg.tls.enabled:
        client.tls_set_context(build_tls_context(cfg))
        if cfg.tls.insecure_skip_verify:
            client.tls_insecure_set(True)
    return client


def use_protocol(client: mqtt.Client, protocol: MQTTProtocolVersion) -> None:
    """Build the next CONNECT with ``protocol``."""
    # paho reads _protocol (and _clean_session for 3.1.1) afresh for every CONNECT it builds;
    # tests/test_broker_compat.py checks this against RabbitMQ's MQTT 3.1.1-only plugin.
    client._protocol = protocol
    client._clean_session = True


class ProtocolFallback:
    """MQTT 5 unanswered or refused as a protocol: try 3.1.1 next (and back, if that fails)."""

    def __init__(self, cfg: MqttConfig) -> None:
        self._cfg = cfg
        self.trying = False
        """The next attempts use MQTT 3.1.1 in place of the configured MQTT 5."""
        self.worked = False
        """A 3.1.1 CONNECT was accepted: stay with it."""

    def failed(self, client: mqtt.Client, reason: str) -> None:
        """An attempt failed for ``reason``: switch protocol if that may help."""
        if self._cfg.protocol != "5" or reason.startswith("TLS"):
            return
        if not self.trying:
            self.trying = True
            use_protocol(client, mqtt.MQTTv311)
            log.info("broker did not accept an MQTT 5 CONNECT (%s): trying MQTT 3.1.1", reason)
        elif not self.worked:
            self.trying = False
            use_protocol(client, mqtt.MQTTv5)

    def connected(self) -> None:
        """A CONNACK: if it came to 3.1.1, say so once."""
        if self.trying and not self.worked:
            self.worked = True
            log.warning(
                "broker %s:%s speaks only MQTT 3.1.1: publishing with 3.1.1 (set mqtt.protocol "
                '= "3.1.1" to skip the MQTT 5 attempt; 3.1.1 cannot report a refused publish)',
                self._cfg.host,
                self._cfg.port,
            )


def loop_writes(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """paho's external-loop hook: nothing to register, the network loop selects for writing
    whenever paho has output."""
