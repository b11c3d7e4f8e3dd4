"""Tests of agent.wire.connect_errors: the technician's reason for a failed broker connection.

The exceptions are the real ones a connection attempt raises here (DNS of a ``.invalid`` host, a
closed port, a silent server, a reset, TLS handshakes in-process against a Python TLS server with
throwaway certificates from ``openssl``: untrusted or misnamed broker certificate, missing or
foreign client certificate, a plain-text port); the CONNACK reason codes are paho's own, MQTT 5 and
converted from MQTT 3.1.1; and the OpenSSL texts the network thread logs before the broker hangs up.
No broker runs (tests/test_cli_diag_broker.py covers ``diag`` against mosquitto).
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from paho.mqtt.client import convert_connack_rc_to_reason_code
from paho.mqtt.enums import ConnackCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from agent.wire.connect_errors import (
    CLIENT_CERT_MISSING,
    CLIENT_CERT_REJECTED,
    describe_closed,
    describe_exception,
    describe_refusal,
    tls_text,
)
from tests.pki import make_pki, self_signed_ca

CONNACK = b"\x20\x02\x00\x00"


def _raised(attempt: Callable[[], object]) -> BaseException:
    try:
        attempt()
    except BaseException as exc:  # the exception is the test's subject
        return exc
    raise AssertionError("the connection attempt did not fail")


def _listener() -> socket.socket:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    return srv


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tls")
    p = make_pki(d / "pki")
    self_signed_ca("stranger", d / "stranger.key", d / "stranger.pem")
    return {**p, "stranger.key": d / "stranger.key", "stranger.pem": d / "stranger.pem"}


@pytest.fixture
def tls_server(pki: dict[str, Path]) -> Iterator[Callable[[bool], int]]:
    """A TLS server on 127.0.0.1 for one connection (``require_client_cert``: the CA's only)."""
    servers: list[tuple[socket.socket, threading.Thread]] = []

    def start(require_client_cert: bool) -> int:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki["srv.pem"], pki["srv.key"])
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(pki["ca.pem"])
        srv = _listener()

        def serve() -> None:
            conn, _ = srv.accept()
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(CONNACK)  # should the client get this far
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        servers.append((srv, t))
        return int(srv.getsockname()[1])

    yield start
    for srv, t in servers:
        srv.close()
        t.join(5)


def _tls_connect(port: int, ctx: ssl.SSLContext, host: str = "localhost") -> bytes:
    """The first bytes the server sends (TLS 1.3 delivers its verdict on a client certificate
    on the first read, after the client's side of the handshake)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return tls.recv(4)


def _client_ctx(ca: Path, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


def test_no_exception_means_the_attempt_failed_without_one() -> None:
    assert describe_exception(None) == "closed: the connection attempt failed"


def test_an_unresolvable_host_is_a_dns_problem() -> None:
    exc = _raised(lambda: socket.getaddrinfo("broker.invalid", 1883))
    assert isinstance(exc, socket.gaierror)
    text = describe_exception(exc)
    assert text == f"DNS: cannot resolve the broker host ({exc.strerror}); check mqtt.host and DNS"


def test_a_closed_port_is_refused() -> None:
    srv = _listener()
    port = srv.getsockname()[1]
    srv.close()
    exc = _raised(lambda: socket.create_connection(("127.0.0.1", port), timeout=5))
    assert isinstance(exc, ConnectionRefusedError)
    assert describe_exception(exc).startswith("refused: nothing listens on that port")


def test_a_silent_server_is_a_timeout() -> None:
    with _listener() as srv, socket.create_connection(srv.getsockname(), timeout=0.05) as c:
        exc = _raised(lambda: c.recv(1))
    assert isinstance(exc, TimeoutError)
    assert describe_exception(exc) == "timeout: no answer from the broker (firewall, wrong address)"


def test_a_reset_connection_is_closed_with_the_system_reason() -> None:
    with _listener() as srv, socket.create_connection(srv.getsockname(), timeout=5) as c:
        conn, _ = srv.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # linger 0: the peer gets a RST
        exc = _raised(lambda: c.recv(1))
    assert isinstance(exc, ConnectionResetError)
    assert describe_exception(exc) == f"closed: {exc.strerror}"
    assert describe_exception(OSError("no strerror")) == "closed: no strerror"


def test_anything_else_is_closed_with_its_type() -> None:
    assert describe_exception(ValueError("bad port")) == "closed: ValueError: bad port"


def test_an_untrusted_broker_certificate_names_the_broker_side(
    tls_server: Callable[[bool], int], pki: dict[str, Path]
) -> None:
    port = tls_server(False)
    exc = _raised(lambda: _tls_connect(port, _client_ctx(pki["stranger.pem"])))
    assert isinstance(exc, ssl.SSLCertVerificationError)
    text = describe_exception(exc)
    assert text.startswith(f"TLS: broker certificate rejected ({exc.verify_message}); ")
    assert "mqtt.tls.ca_file" in text
    assert exc.verify_message  # OpenSSL says why ("unable to get local issuer certificate")


def test_a_broker_certificate_for_another_name_is_rejected(
    tls_server: Callable[[bool], int], pki: dict[str, Path]
) -> None:
    port = tls_server(False)
    exc = _raised(lambda: _tls_connect(port, _client_ctx(pki["ca.pem"]), host="broker.example"))
    assert isinstance(exc, ssl.SSLCertVerificationError)
    assert "Hostname mismatch" in describe_exception(exc)
    assert "check mqtt.host matches its name" in describe_exception(exc)


def test_a_trusted_broker_lets_the_handshake_through(
    tls_server: Callable[[bool], int], pki: dict[str, Path]
) -> None:
    port = tls_server(False)
    assert _tls_connect(port, _client_ctx(pki["ca.pem"])) == CONNACK  # the control: no failure


def test_no_client_certificate_when_the_broker_requires_one(
    tls_server: Callable[[bool], int], pki: dict[str, Path]
) -> None:
    port = tls_server(True)
    exc = _raised(lambda: _tls_connect(port, _client_ctx(pki["ca.pem"])))
    assert isinstance(exc, ssl.SSLError)
    assert describe_exception(exc) == CLIENT_CERT_MISSING


def test_a_client_certificate_the_broker_does_not_trust(
    tls_server: Callable[[bool], int], pki: dict[str, Path]
) -> None:
    port = tls_server(True)
    foreign = (pki["stranger.pem"], pki["stranger.key"])
    exc = _raised(lambda: _tls_connect(port, _client_ctx(pki["ca.pem"], foreign)))
    assert isinstance(exc, ssl.SSLError)
    assert describe_exception(exc) == CLIENT_CERT_REJECTED
    good = (pki["cli.pem"], pki["cli.key"])
    assert _tls_connect(tls_server(True), _client_ctx(pki["ca.pem"], good)) == CONNACK


def test_tls_to_a_plain_text_port_asks_whether_it_is_a_tls_port(pki: dict[str, Path]) -> None:
    with _listener() as srv:

        def plain() -> None:
            conn, _ = srv.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(CONNACK * 64)  # MQTT bytes, not a TLS record

        t = threading.Thread(target=plain, daemon=True)
        t.start()
        exc = _raised(lambda: _tls_connect(srv.getsockname()[1], _client_ctx(pki["ca.pem"])))
        t.join(5)
    assert isinstance(exc, ssl.SSLError)
    assert not isinstance(exc, ssl.SSLCertVerificationError)
    text = describe_exception(exc)
    assert text == f"TLS: handshake failed ({exc.reason}); is mqtt.port a TLS port?"


@pytest.mark.parametrize(
    ("openssl_text", "reason"),
    [
        ("[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required", 1),
        ("peer did not return a certificate", 1),
        ("[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate", 2),
        ("[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca", 2),
        ("sslv3 alert certificate expired (_ssl.c:2580) ALERT_CERTIFICATE_EXPIRED", 2),
        ("[SSL: TLSV1_ALERT_DECRYPT_ERROR] tlsv1 alert decrypt error", 2),
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number", 0),
        ("", 0),
    ],
)
def test_tls_text_finds_the_client_certificate_reason(openssl_text: str, reason: int) -> None:
    assert tls_text(openssl_text) == (None, CLIENT_CERT_MISSING, CLIENT_CERT_REJECTED)[reason]


@pytest.mark.parametrize(
    ("code", "category"),
    [
        (ReasonCode(PacketTypes.CONNACK, identifier=0x86), "bad credentials or not authorized"),
        (ReasonCode(PacketTypes.CONNACK, identifier=0x87), "bad credentials or not authorized"),
        (convert_connack_rc_to_reason_code(ConnackCode(4)), "bad credentials or not authorized"),
        (convert_connack_rc_to_reason_code(ConnackCode(5)), "bad credentials or not authorized"),
        (ReasonCode(PacketTypes.CONNACK, identifier=0x85), "not authorized: "),
        (convert_connack_rc_to_reason_code(ConnackCode(2)), "not authorized: "),
        (ReasonCode(PacketTypes.CONNACK, identifier=0x84), "protocol"),
        (convert_connack_rc_to_reason_code(ConnackCode(1)), "protocol"),
        (ReasonCode(PacketTypes.CONNACK, identifier=0x88), "refused"),
        (ReasonCode(PacketTypes.CONNACK, identifier=0x8A), "refused"),
    ],
)
def test_refusals_start_with_their_category_and_quote_the_code(
    code: ReasonCode, category: str
) -> None:
    text = describe_refusal(code)
    assert text.startswith(category)
    assert f"({code})" in text


def test_credentials_refusals_name_the_settings_to_check() -> None:
    text = describe_refusal(ReasonCode(PacketTypes.CONNACK, identifier=0x86))
    assert "mqtt.username" in text
    assert "TRIAGE_MQTT_PASSWORD" in text
    assert "device.id" in describe_refusal(ReasonCode(PacketTypes.CONNACK, identifier=0x85))


def test_a_hang_up_before_connack() -> None:
    assert describe_closed(None).startswith("closed before CONNACK: the broker hung up")
    assert describe_closed("") == describe_closed(None)
    assert describe_closed("[Errno 104] Connection reset by peer") == (
        "closed before CONNACK: [Errno 104] Connection reset by peer"
    )
    alert = "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required"
    assert describe_closed(alert) == CLIENT_CERT_MISSING
    assert describe_closed("tlsv1 alert unknown ca ALERT_UNKNOWN_CA") == CLIENT_CERT_REJECTED
