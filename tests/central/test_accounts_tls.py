"""The TLS recipe of docs/CENTRAL.md ("Who sees what", TLS) with a real nginx from Debian in front
of the dashboard: HTTPS only, Secure ``__Host-`` cookies and HSTS, the client's address forwarded
by the trusted proxy (the throttle counts it), and single sign-on through the proxy's
authenticated-user header. Skipped when nginx is not installed (``make setup`` installs it)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from central.accounts import users as accounts
from central.store.db import open_db
from central.web.guard import WebSecurity
from tests.broker import free_port
from tests.central.browser import served
from tests.central.test_accounts import ADMIN, PASSWORD, TZ, Client, NoRedirect

pytestmark = pytest.mark.slow
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONF = """
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name dashboard.test;
    ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{
      proxy_pass {upstream};
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Remote-User "";
    }}
    location /sso/ {{
      # stands for the district's single sign-on: the proxy authenticates and names the user
      proxy_pass {upstream}/;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Remote-User "olu";
    }}
  }}
}}
"""


@pytest.fixture
def nginx_front(tmp_path: Path, db_url: str) -> Iterator[tuple[str, Path, Engine]]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (make setup installs nginx-light)")
    engine = open_db(db_url)
    with engine.begin() as conn:
        accounts.add(conn, ADMIN, username="ada", role="admin", password=PASSWORD)
        accounts.add(conn, ADMIN, username="olu", role="officer", password=None)
    security = WebSecurity(
        allowed_hosts=("dashboard.test",),
        local=False,
        secure_cookies=True,
        trusted_proxies=("127.0.0.1",),
        sso_header="X-Remote-User",
    )
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=dashboard.test", "-addext", "subjectAltName=DNS:dashboard.test",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    with served(engine, TZ, security=security, language="en") as upstream:
        port = free_port()
        conf = tmp_path / "nginx.conf"
        conf.write_text(CONF.format(d=tmp_path, port=port, upstream=upstream))
        proc = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"])
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"https://127.0.0.1:{port}", tmp_path / "cert.pem", engine
        finally:
            proc.terminate()
            proc.wait(10)


def tls_client(url: str, ca: Path, host: str = "dashboard.test") -> Client:
    """A client trusting the test's certificate, sending ``host`` as the Host header."""
    c = Client(url, host=host)
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False  # the URL names 127.0.0.1; the Host header the proxy's name
    c.opener = urllib.request.build_opener(
        NoRedirect,
        urllib.request.HTTPCookieProcessor(c.jar),
        urllib.request.HTTPSHandler(context=ctx),
    )
    return c


def test_behind_nginx_with_tls(nginx_front: tuple[str, Path, Engine]) -> None:
    url, ca, _engine = nginx_front
    c = tls_client(url, ca)
    status, headers, _ = c.call("/login")
    assert status == 200
    assert headers["strict-transport-security"].startswith("max-age=")
    assert c.sign_in("ada") == 303
    names = {k.name: k for k in c.jar}
    assert "__Host-triage_session" in names
    assert names["__Host-triage_session"].secure
    assert c.call("/users")[0] == 200
    # The proxy's user header names the user (SSO); a header sent by the client is overwritten.
    sso = tls_client(url, ca)
    status, _, body = sso.call("/sso/spotchecks")
    assert status == 200, body[:300]
    assert "olu" in body
    forged = tls_client(url, ca)
    assert forged.call("/spotchecks", headers={"X-Remote-User": "ada"})[0] == 303
    # A Host the proxy passes but the dashboard does not know: 400.
    other = tls_client(url, ca, "evil.example")
    assert other.call("/healthz")[0] == 400


def test_sso_header_only_from_the_trusted_proxy(db_url: str) -> None:
    engine = open_db(db_url)
    with engine.begin() as conn:
        accounts.add(conn, ADMIN, username="olu", role="officer", password=None)
    untrusted = WebSecurity(local=False, trusted_proxies=("10.9.9.9",), sso_header="X-Remote-User")
    with served(engine, TZ, security=untrusted) as url:
        assert Client(url).call("/spotchecks", headers={"X-Remote-User": "olu"})[0] == 303
