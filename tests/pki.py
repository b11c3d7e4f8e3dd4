"""Throwaway certificates for TLS tests, made with the real ``openssl`` command."""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def self_signed_ca(cn: str, key: Path, cert: Path) -> None:
    """A throwaway CA certificate (2 days) and its key."""
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={cn}",
        "-keyout",
        str(key),
        "-out",
        str(cert),
    )


def make_pki(d: Path) -> dict[str, Path]:
    """A throwaway CA, a broker certificate for 127.0.0.1/localhost, and a client certificate."""
    d.mkdir()
    p = {n: d / n for n in ("ca.key", "ca.pem", "srv.key", "srv.pem", "cli.key", "cli.pem", "ext")}
    self_signed_ca("test-ca", p["ca.key"], p["ca.pem"])
    p["ext"].write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn in (("srv", "localhost"), ("cli", "site-a-desk-1")):
        csr = d / f"{name}.csr"
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={cn}",
            "-keyout",
            str(p[f"{name}.key"]),
            "-out",
            str(csr),
        )
        openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(p["ca.pem"]),
            "-CAkey",
            str(p["ca.key"]),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            str(p[f"{name}.pem"]),
            *(["-extfile", str(p["ext"])] if name == "srv" else []),
        )
    return p


def client_cert(d: Path, ca_key: Path, ca_pem: Path, cn: str) -> tuple[Path, Path]:
    """A client certificate (2 days) with common name ``cn``, signed by the CA: (key, cert) in
    ``d`` (mosquitto's ``use_identity_as_username`` takes the CN as the user name)."""
    key, pem, csr = d / f"{cn}.key", d / f"{cn}.pem", d / f"{cn}.csr"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
            "-keyout", str(key), "-out", str(csr))  # fmt: skip
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "2", "-out", str(pem))  # fmt: skip
    return key, pem
