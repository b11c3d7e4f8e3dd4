"""Accounts, sign-in and who sees what, through the real dashboard (uvicorn on a free port, real
HTTP) on SQLite and PostgreSQL: every route tried as every role, CSRF, sign-out, lock-out and its
lifting, API tokens, security headers, Host names, the audit trail and the spot checks' draw
reproduced from its record, and the public page checked for leaks."""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from central.accounts import sessions, spotcheck, throttle
from central.accounts import users as accounts
from central.audit import trail
from central.registry.clinics import Clinic, Responsible, save
from central.store.db import open_db
from central.web.guard import Guard, WebSecurity
from central.web.server import create_app
from tests.broker import free_port
from tests.central.browser import served

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "a long enough passphrase"
ADMIN = accounts.Actor("test", "admin")
ROLES = ["admin", "officer", "health", "community", "clinic", "viewer", "anonymous"]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kw: object) -> None:
        return None


@dataclass
class Client:
    """A browser-like client: its own cookies, no redirects followed."""

    base: str
    host: str | None = None
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)
    bearer: str | None = None

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(
            NoRedirect, urllib.request.HTTPCookieProcessor(self.jar)
        )

    def call(
        self, path: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        data = urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        if self.bearer:
            req.add_header("Authorization", f"Bearer {self.bearer}")
        if self.host:
            req.add_header("Host", self.host)
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode("utf-8", "replace")

    def csrf(self, path: str = "/login") -> str:
        _, _, body = self.call(path)
        m = re.search(r'name="csrf_token" value="([^"]+)"', body)
        assert m, body[:500]
        return m.group(1)

    def sign_in(self, name: str, password: str = PASSWORD) -> int:
        token = self.csrf()
        status, _, _ = self.call(
            "/login", {"username": name, "password": password, "csrf_token": token}
        )
        return status


@pytest.fixture
def district(db_url: str) -> Engine:
    engine = open_db(db_url)
    with engine.begin() as conn:
        for name, role, party, site in [
            ("ada", "admin", None, None),
            ("olu", "officer", None, None),
            ("hana", "party", "health_bureau", None),
            ("cai", "party", "community", None),
            ("clin", "clinic", None, "clinic-a"),
            ("vic", "viewer", None, None),
            ("enf", "party", "enforcement_bureau", None),
        ]:
            accounts.add(conn, ADMIN, username=name, role=role, password=PASSWORD,
                         party=party, site=site)  # fmt: skip
        save(conn, Clinic("clinic-a", "Clinic A", parties=(
            Responsible("health_bureau", "H", username="hana"),
            Responsible("community", "C", username="cai"),)))  # fmt: skip
        save(conn, Clinic("clinic-b", "Clinic B", parties=(
            Responsible("health_bureau", "H", username="hana"),)))  # fmt: skip
        for site in ("clinic-a", "clinic-b"):
            trail.record(conn, actor="olu", role="officer", action="notice.issued",
                         target_kind="notice", target_id=f"N-{site}", site=site)  # fmt: skip
    return engine


@pytest.fixture
def dashboard(district: Engine) -> Iterator[str]:
    with served(district, TZ) as url:
        yield url


def signed_in(url: str, role: str) -> Client:
    c = Client(url)
    name = {"admin": "ada", "officer": "olu", "health": "hana", "community": "cai",
            "clinic": "clin", "viewer": "vic"}.get(role)  # fmt: skip
    if name:
        assert c.sign_in(name) == 303
    return c


# Route -> who may GET it (roles as in ROLES); public routes answer everyone.
EVERYONE = set(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
ALLOWED: dict[str, set[str]] = {
    "/": SIGNED_IN,
    "/clinic/{site}": SIGNED_IN,
    "/day": SIGNED_IN,
    "/day.csv": SIGNED_IN,
    "/week": SIGNED_IN,
    "/week.csv": SIGNED_IN,
    "/healthz": EVERYONE,
    "/static/central.css": EVERYONE,
    "/login": EVERYONE,
    "/public": EVERYONE,
    "/account": SIGNED_IN,
    "/users": {"admin"},
    "/audit": {"admin", "officer", "health", "community", "clinic"},
    "/audit.csv": {"admin", "officer", "health", "community", "clinic"},
    "/spotchecks": SIGNED_IN,
    "/spotchecks/{check_id}": SIGNED_IN,
}
SCOPE = {"health": {"clinic-a", "clinic-b"}, "community": {"clinic-a"}, "clinic": {"clinic-a"}}


def test_every_route_as_every_role(district: Engine, dashboard: str) -> None:
    with district.begin() as conn:
        check = spotcheck.draw(conn, actor="olu", role="officer", day=date(2026, 12, 5), n=2, m=1,
                               seed="00" * 16)  # fmt: skip
    app = create_app(district, TZ)
    gets = [r.path for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ())]
    clients = {role: signed_in(dashboard, role) for role in ROLES}
    for path in gets:
        for role in ROLES:
            for site in ("clinic-a", "clinic-b"):
                concrete = path.replace("{site}", site).replace("{check_id}", check.id)
                status, _, body = clients[role].call(concrete)
                allowed = ALLOWED.get(path)
                if allowed is None:  # another feature's page: at least closed to strangers
                    if role == "anonymous":
                        assert status in (303, 401), (path, role, status)
                    continue
                sees = role not in SCOPE or site in SCOPE[role] or "{site}" not in path
                ok = role in allowed and sees
                if path == "/spotchecks/{check_id}" and role in SCOPE:
                    ok = role in allowed  # the check concerns clinic-a and clinic-b
                if ok:
                    assert status == 200, (concrete, role, status, body[:200])
                else:
                    assert status in (303, 401, 403, 404), (concrete, role, status)
                    if role == "anonymous" and status == 303:
                        continue
                if status == 200 and role in SCOPE and path not in ("/public",):
                    for other in {"clinic-a", "clinic-b"} - SCOPE[role]:
                        assert other not in body, (concrete, role, other)
                        assert "Clinic B" not in body, (concrete, role)


POSTS: dict[str, set[str]] = {
    "/spotchecks/draw": {"admin", "officer"},
    "/users/vic/lock": {"admin"},
    "/spotchecks/{check_id}/clinic-a": {"admin", "officer", "health", "community"},
}


def test_every_post_route_needs_csrf_and_permission(district: Engine, dashboard: str) -> None:
    with district.begin() as conn:
        check = spotcheck.draw(conn, actor="olu", role="officer", day=date(2026, 12, 5), n=2, m=1,
                               seed="11" * 16)  # fmt: skip
    app = create_app(district, TZ)
    posts = [r.path for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    for role in ROLES:
        c = signed_in(dashboard, role)
        for path in posts:
            concrete = re.sub(r"\{[^}]+\}", "1", path.replace("{check_id}", check.id))
            status, _, _ = c.call(concrete, {"x": "1"})  # a forged form: no CSRF token
            assert status in (401, 403), (role, concrete, status)
        for path, allowed in POSTS.items():
            concrete = path.replace("{check_id}", check.id)
            form = {"day": "2026-12-05", "n": "1", "m": "1", "outcome": "compliant",
                    "rectification": "none", "finding": "ok"}  # fmt: skip
            if role != "anonymous":
                form["csrf_token"] = c.csrf("/spotchecks")
            status, _, _ = c.call(concrete, form)
            if role in allowed:
                assert status == 303, (role, concrete, status)
            else:
                expected = {303, 401, 403} if role == "anonymous" else {403, 404}
                assert status in expected, (role, concrete, status)
        if role == "admin":
            with district.begin() as conn:
                accounts.unlock(conn, ADMIN, "vic")
    # Sign-in's next= never leaves the site.
    c = Client(dashboard)
    for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        token = c.csrf()
        status, headers, _ = c.call(
            "/login?" + urlencode({"next": target}),
            {"username": "vic", "password": PASSWORD, "csrf_token": token},
        )
        assert status == 303
        assert headers["location"] == "/", target


def test_sign_in_csrf_sign_out(district: Engine, dashboard: str) -> None:
    c = Client(dashboard)
    # No CSRF token: refused even with the right password.
    status, _, _ = c.call("/login", {"username": "ada", "password": PASSWORD})
    assert status == 403
    assert c.sign_in("ada") == 303
    cookies = {k.name: k for k in c.jar}
    session = cookies["triage_session"]
    assert session.has_nonstandard_attr("HttpOnly")
    assert session.get_nonstandard_attr("SameSite") == "Lax"
    status, headers, body = c.call("/")
    assert status == 200
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "<script" not in body
    assert "style=" not in body
    # A form from another site (no token) is refused; with the token it works.
    status, _, _ = c.call("/logout", {})
    assert status == 403
    stolen = session.value
    status, _, _ = c.call("/logout", {"csrf_token": c.csrf("/account")})
    assert status == 303
    # The old cookie is dead on the server side.
    other = Client(dashboard)
    other.jar.set_cookie(http.cookiejar.Cookie(
        0, "triage_session", stolen, None, False, "127.0.0.1", False, False, "/", True, False,
        None, False, None, None, {}))  # fmt: skip
    assert other.call("/")[0] == 303
    with district.begin() as conn:
        actions = [e.action for e in trail.entries(conn, target_kind="user")]
    assert "user.added" in actions


def test_lock_out_and_lifting(district: Engine, dashboard: str) -> None:
    c = Client(dashboard)
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert c.sign_in("vic", "wrong password guess") == 401
    assert c.sign_in("vic") == 429  # the right password no longer helps
    admin = signed_in(dashboard, "admin")
    status, _, body = admin.call("/users")
    assert "vic" in body
    assert status == 200
    token = admin.csrf("/users")
    assert admin.call("/users/vic/unlock", {"csrf_token": token})[0] == 303
    assert c.sign_in("vic") == 303
    with district.connect() as conn:
        unlocked = trail.entries(conn, target_kind="user", target_id="vic")
    assert unlocked[0].action == "user.unlocked"
    assert unlocked[0].actor == "ada"
    # Lock and unlock by the administrator end the session.
    assert admin.call("/users/vic/lock", {"csrf_token": token})[0] == 303
    assert c.call("/")[0] == 303


def test_brute_force_throttled(district: Engine, dashboard: str) -> None:
    """Guesses per second on one account and one address, before the lock-out (Argon2 cost and
    the failure delay) and after it (refused, nothing checked)."""
    c = Client(dashboard)
    t0 = time.monotonic()
    for i in range(throttle.ACCOUNT_LIMIT):
        c.sign_in("olu", f"guess number {i:04d}")
    before = throttle.ACCOUNT_LIMIT / (time.monotonic() - t0)
    t0 = time.monotonic()
    n = 0
    while n < 10:
        assert c.sign_in("olu", f"guess number {n:04d}") == 429
        n += 1
    after_rate = n / (time.monotonic() - t0)
    print(f"\nbrute force: {before:.1f} guesses/s checked before the lock-out; after it "
          f"{after_rate:.1f} refused/s, 0 checked (locked {throttle.LOCK_S:.0f} s)")  # fmt: skip
    assert before < 10
    # Bad API tokens count against the address too (from another address than the sign-ins'
    # in real life; here the same one is already locked after 15 failures: start clean).
    with district.begin() as conn:
        throttle.lift(conn, throttle.address_key("127.0.0.1"))
    t = Client(dashboard, bearer="tca_" + "x" * 43)
    t0 = time.monotonic()
    codes = [t.call("/day.csv")[0] for _ in range(throttle.ADDRESS_LIMIT)]
    token_rate = len(codes) / (time.monotonic() - t0)
    assert set(codes) == {401}
    t0 = time.monotonic()
    refused = [t.call("/day.csv")[0] for _ in range(50)]
    refused_rate = len(refused) / (time.monotonic() - t0)
    assert set(refused) == {429}
    print(f"bad API tokens: {token_rate:.0f}/s checked until {throttle.ADDRESS_LIMIT} failures, "
          f"then {refused_rate:.0f}/s refused unchecked for {throttle.LOCK_S:.0f} s")  # fmt: skip


def test_api_tokens_hashed_shown_once_revocable(district: Engine, dashboard: str) -> None:
    c = signed_in(dashboard, "clinic")
    status, _, body = c.call("/account/tokens", {"label": "csv", "csrf_token": c.csrf("/account")})
    assert status == 200
    secret = re.search(r'id="new-token">([^<]+)<', body)
    assert secret
    value = secret.group(1)
    with district.connect() as conn:
        stored = [str(r) for r in conn.exec_driver_sql("SELECT token_hash FROM api_tokens")]
        assert not any(value in s for s in stored)
    script = Client(dashboard, bearer=value)
    status, _, csv = script.call("/audit.csv")
    assert status == 200
    assert "clinic-a" in csv
    assert "clinic-b" not in csv
    assert value not in c.call("/account")[2]
    with district.connect() as conn:
        pk = sessions.tokens(conn, "clin")[0].pk
    c.call(f"/account/tokens/{pk}/revoke", {"csrf_token": c.csrf("/account")})
    assert script.call("/audit.csv")[0] == 401
    with district.connect() as conn:
        acts = [e.action for e in trail.entries(conn, target_kind="user", target_id="clin")]
    assert acts[:2] == ["token.revoked", "token.created"]


def test_host_names_and_errors(district: Engine, dashboard: str) -> None:
    evil = Client(dashboard, host="evil.example:8080")  # DNS rebinding
    status, _headers, _ = evil.call("/")
    assert status == 400
    assert Client(dashboard, host="localhost:1").call("/healthz")[0] == 200


def test_local_dashboard_without_accounts(tmp_path: object, db_url: str) -> None:
    engine = open_db(db_url)
    with served(engine, TZ) as url:
        c = Client(url)
        assert c.call("/")[0] == 200  # the local administrator
        assert c.call("/users")[0] == 200
        assert c.call("/spotchecks/draw", {"n": "1", "m": "1"})[0] == 403  # CSRF still


def test_legacy_token_is_an_admin_api_token(db_url: str) -> None:
    engine = open_db(db_url)
    token = "a-shared-token-of-at-least-32-characters"
    with served(engine, TZ, token=token) as url:
        assert Client(url).call("/week.csv")[0] == 401
        assert Client(url, bearer=token).call("/week.csv")[0] == 200
        assert Client(url).call("/")[0] == 303


def test_spot_check_draw_reproduced_and_public_page(district: Engine, dashboard: str) -> None:
    officer = signed_in(dashboard, "officer")
    status, headers, _ = officer.call(
        "/spotchecks/draw",
        {"day": "2026-12-05", "n": "1", "m": "2", "csrf_token": officer.csrf("/spotchecks")},
    )
    assert status == 303, headers
    check_id = headers["location"].rsplit("/", 1)[1]
    with district.connect() as conn:
        found = spotcheck.get(conn, check_id)
        assert found is not None
        assert found.inputs.clinics == ("clinic-a", "clinic-b")
        assert found.inputs.inspectors == ("enf", "olu")
        assert spotcheck.verify(conn, check_id).ok
        assert spotcheck.draw_from(found.seed, found.inputs) == found.drawn
    site = found.drawn.clinics[0]
    status, _, body = officer.call(f"/spotchecks/{check_id}")
    assert "same result" in body
    form = {"outcome": "rectify", "rectification": "required", "finding": "no mask at triage",
            "csrf_token": officer.csrf(f"/spotchecks/{check_id}")}  # fmt: skip
    assert officer.call(f"/spotchecks/{check_id}/{site}", form)[0] == 303
    # A clinic user cannot record results.
    clinic = signed_in(dashboard, "clinic")
    assert clinic.call(f"/spotchecks/{check_id}/clinic-a", {
        **form, "csrf_token": clinic.csrf("/spotchecks")})[0] == 403  # fmt: skip
    with district.connect() as conn:
        acts = [e.action for e in trail.entries(conn, target_kind="spotcheck", target_id=check_id)]
    assert "spotcheck.drawn" in acts
    assert "spotcheck.result" in acts
    # The public page: no sign-in, the result, nobody's name, contact or token.
    status, _, page = Client(dashboard).call("/public")
    assert status == 200
    assert check_id in page
    assert "no mask at triage" in page
    for leak in ("ada", "olu", "enf", "hana", "cai", "clin", "vic", "tca_", "@", "csrf_token",
                 "sign out", "Sign out"):  # fmt: skip
        assert not re.search(rf"\b{re.escape(leak)}\b", page), leak


def test_errors_show_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(request: object) -> None:
        raise RuntimeError("secret detail of the failure")

    engine = open_db(tempfile.mkdtemp() + "/c.sqlite3")
    app = Starlette(
        routes=[Route("/boom", broken)],
        middleware=[Middleware(Guard, engine=engine, security=WebSecurity())],
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    try:
        status, headers, body = Client(f"http://127.0.0.1:{port}").call("/boom")
    finally:
        server.should_exit = True
    assert status == 500
    assert "secret detail" not in body
    assert "Traceback" not in body
    assert "content-security-policy" in {k.lower() for k in headers}
    assert "secret detail of the failure" in caplog.text


def run_cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "central", *args], input=stdin, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    return out.returncode, out.stdout, out.stderr


@pytest.mark.slow  # a dozen CLI processes: ~12 s a database
def test_users_and_spotcheck_commands(tmp_path: object, db_url: str) -> None:
    db = ["--db", db_url]
    assert run_cli("users", "add", "ada", "--role", "admin", "--password-stdin", *db,
                   stdin="too short\n")[0] == 1  # fmt: skip
    code, _, err = run_cli("users", "add", "Bad Name", "--role", "admin", "--no-password", *db)
    assert code == 1
    assert "user name" in err
    assert run_cli("users", "add", "ada", "--role", "admin", "--password-stdin", *db,
                   stdin=PASSWORD + "\n")[0] == 0  # fmt: skip
    assert run_cli("users", "add", "olu", "--role", "officer", "--no-password", *db)[0] == 0
    code, _, err = run_cli("users", "add", "p1", "--role", "party", "--no-password", *db)
    assert code == 1
    assert "--party" in err
    assert run_cli("users", "set-role", "olu", "--role", "viewer", *db)[0] == 0
    assert run_cli("users", "lock", "olu", *db)[0] == 0
    assert run_cli("users", "unlock", "olu", *db)[0] == 0
    code, out, _ = run_cli("users", "token", "ada", *db)
    assert code == 0
    assert out.startswith("tca_")
    code, _, err = run_cli("users", "remove", "ada", *db)
    assert code == 1
    assert "last administrator" in err
    code, out, _ = run_cli("users", "list", *db)
    assert "ada" in out
    assert "viewer" in out
    engine = open_db(db_url)
    with engine.begin() as conn:
        save(conn, Clinic("clinic-a", "A"))
        save(conn, Clinic("clinic-b", "B"))
        accounts.add(conn, ADMIN, username="enf", role="party", party="enforcement_bureau",
                     password=None)  # fmt: skip
    code, out, err = run_cli("spotcheck", "draw", "--date", "2026-12-05", "-n", "1", "-m", "1",
                             *db)  # fmt: skip
    assert code == 0, err
    check_id = out.split(":", 1)[0]
    code, out, _ = run_cli("spotcheck", "verify", check_id, *db)
    assert code == 0
    assert "gives the same result" in out
    with engine.connect() as conn:
        actions = [e.action for e in trail.entries(conn, limit=100)]
    for action in ("user.added", "user.changed", "user.locked", "user.unlocked", "token.created",
                   "spotcheck.drawn"):  # fmt: skip
        assert action in actions, action


def test_serve_refusals(tmp_path: object, db_url: str) -> None:
    code, _, err = run_cli("serve", "--db", db_url, "--bind", "0.0.0.0")
    assert code == 78
    assert "add an administrator first" in err
    code, _, err = run_cli("serve", "--db", db_url, "--token", "short")
    assert code == 78
    assert "at least 32 characters" in err
    run_cli("users", "add", "ada", "--role", "admin", "--no-password", "--db", db_url)
    code, _, err = run_cli("serve", "--db", db_url, "--bind", "0.0.0.0")
    assert code == 78
    assert "--allowed-hosts" in err


def test_password_rehashed_when_parameters_change(db_url: str) -> None:
    from argon2 import PasswordHasher

    engine = open_db(db_url)
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        accounts.add(conn, ADMIN, username="ada", role="admin", password=PASSWORD)
        conn.exec_driver_sql(
            "UPDATE users SET password_hash = %s WHERE username = 'ada'"
            if engine.dialect.name == "postgresql"
            else "UPDATE users SET password_hash = ? WHERE username = 'ada'",
            (old,),
        )
    with engine.begin() as conn:
        assert accounts.authenticate(conn, "ada", PASSWORD, "10.0.0.1").account is not None
    with engine.connect() as conn:
        (stored,) = conn.exec_driver_sql("SELECT password_hash FROM users").one()
    assert stored != old
    assert stored.startswith("$argon2id$")
    assert "m=65536" in stored


def test_every_audit_action_has_a_label() -> None:
    from central.web.labels import ACTION_LABELS

    assert set(ACTION_LABELS) == set(trail.ACTIONS)
