"""Why a connection to the broker failed, in the words a technician acts on.

Used by the publisher (logged, rate-limited, and shown as ``last_error`` in ``triage-agent status``)
and by ``triage-agent diag``. Each reason starts with its category: ``refused``, ``DNS``, ``timeout``,
``TLS``, ``bad credentials``, ``not authorized``, ``protocol`` or ``closed``, followed by what was seen
and what to check. TLS problems name the side at fault: the broker's certificate (not trusted,
wrong name, expired) or the box's client certificate (missing, or rejected by the broker).
"""

from __future__ import annotations

import socket
import ssl

from paho.mqtt.reasoncodes import ReasonCode

_CLIENT_CERT_MISSING = ("CERTIFICATE_REQUIRED", "PEER DID NOT RETURN A CERTIFICATE")
_CLIENT_CERT_REJECTED = (
    "ALERT_BAD_CERTIFICATE",
    "ALERT_UNKNOWN_CA",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_CERTIFICATE_EXPIRED",
    "ALERT_CERTIFICATE_REVOKED",
    "ALERT_UNSUPPORTED_CERTIFICATE",
    "ALERT_DECRYPT_ERROR",
)

CLIENT_CERT_MISSING = (
    "TLS: the broker requires a client certificate and none was sent; "
    "set mqtt.tls.cert_file and mqtt.tls.key_file"
)
CLIENT_CERT_REJECTED = (
    "TLS: the broker rejected the client certificate (not signed by a CA it trusts, expired or "
    "revoked); check mqtt.tls.cert_file with the broker administrator"
)


def tls_text(text: str) -> str | None:
    """The client-certificate reason hidden in an OpenSSL error text, if any."""
    upper = text.upper()
    if any(k in upper for k in _CLIENT_CERT_MISSING):
        return CLIENT_CERT_MISSING
    if any(k in upper for k in _CLIENT_CERT_REJECTED):
        return CLIENT_CERT_REJECTED
    return None


def describe_exception(exc: BaseException | None) -> str:
    """A connection attempt raised ``exc`` (socket, DNS or TLS error)."""
    if exc is None:
        return "closed: the connection attempt failed"
    if isinstance(exc, socket.gaierror):
        return f"DNS: cannot resolve the broker host ({exc.strerror}); check mqtt.host and DNS"
    if isinstance(exc, ConnectionRefusedError):
        return "refused: nothing listens on that port (broker down or wrong mqtt.port)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout: no answer from the broker (firewall, wrong address)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS: broker certificate rejected ({exc.verify_message}); set mqtt.tls.ca_file to the "
            "CA that signed it and check mqtt.host matches its name and the clock"
        )
    if isinstance(exc, ssl.SSLError):
        return tls_text(str(exc)) or (
            f"TLS: handshake failed ({exc.reason or exc}); is mqtt.port a TLS port?"
        )
    if isinstance(exc, OSError):
        return f"closed: {exc.strerror or exc}"
    return f"closed: {type(exc).__name__}: {exc}"


def describe_refusal(reason_code: ReasonCode) -> str:
    """The broker answered CONNECT with a failure reason code."""
    value = reason_code.value
    if value in (0x86, 4, 0x87, 5):  # mosquitto answers a wrong password with 0x87
        return (
            f"bad credentials or not authorized: the broker refused the login ({reason_code}); "
            "check mqtt.username and mqtt.password (or TRIAGE_MQTT_USERNAME / "
            "TRIAGE_MQTT_PASSWORD) and that the broker allows this user and client id"
        )
    if value in (0x85, 2):
        return f"not authorized: the broker refused the client id ({reason_code}); check device.id"
    if value in (0x84, 1):
        return f"protocol: the broker does not accept this MQTT version ({reason_code})"
    return f"refused: the broker refused the connection ({reason_code})"


def describe_closed(last_socket_error: str | None) -> str:
    """The broker closed the connection before answering CONNECT."""
    if last_socket_error:
        cert = tls_text(last_socket_error)
        if cert is not None:
            return cert
        return f"closed before CONNACK: {last_socket_error}"
    return (
        "closed before CONNACK: the broker hung up without answering (wrong MQTT version, "
        "a TLS port reached without TLS, or a client certificate it does not accept)"
    )
