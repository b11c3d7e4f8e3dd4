"""The dashboard's guard: one ASGI middleware in front of every route.

In order, for each HTTP request:

1. **Host**: the ``Host`` header must name one of the configured host names (others get 400:
   a DNS-rebinding page cannot reach a dashboard on 127.0.0.1).
2. **Headers** on every answer: Content-Security-Policy (no script at all, styles only from
   ``/static/``, ``frame-ancestors 'none'``), X-Content-Type-Options, Referrer-Policy,
   X-Frame-Options, Cross-Origin-Opener-Policy, ``Cache-Control: no-store`` and, behind TLS,
   Strict-Transport-Security.
3. **Who**: ``Authorization: Bearer`` (a user's API token, or the deprecated ``--token``), else a
   trusted reverse proxy's authenticated-user header (SSO), else the session cookie, else — only
   when no account exists and the dashboard listens on localhost — the local administrator. The
   :class:`~central.accounts.roles.Viewer` goes to ``request.state.viewer``
   (central/web/identity.py). Anonymous requests reach only the public paths; pages redirect to
   the sign-in, the rest get 401. Bad tokens count against the client address like bad passwords.
4. **CSRF**: every POST from a browser (not Bearer) carries ``csrf_token`` (a hidden field, or the
   ``X-CSRF-Token`` header) equal to the session's token (signed in) or to the ``triage_csrf``
   cookie (double-submit, before sign-in); otherwise 403. Templates get the hidden input as
   ``{{ csrf_input }}`` (a Jinja2 global reading this request's token).
5. **Errors**: an exception becomes a plain 500 page; the traceback goes to the log only.

One module because the order of these five steps is the security argument (nothing is answered
before the Host is checked, nobody acts before being identified, no POST runs before its CSRF
check): read top to bottom, it is the whole path of a request to a route.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qs, quote

from markupsafe import Markup
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from central.accounts import sessions, throttle, users
from central.accounts.roles import LOCAL_ADMIN, Viewer

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE: Final = "triage_session"
SECURE_SESSION_COOKIE: Final = "__Host-triage_session"
CSRF_COOKIE: Final = "triage_csrf"
CSRF_FIELD: Final = "csrf_token"
MAX_FORM: Final = 256 * 1024
LEGACY_TOKEN_USER: Final = "legacy-token"  # noqa: S105 - a user name, not a secret

PUBLIC_PATHS: Final = ("/public", "/healthz", "/static/", "/login")
"""Reachable without signing in (``/static/`` and ``/public`` as prefixes)."""

CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
LOCAL_HOSTS: Final = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class WebSecurity:
    """How the dashboard is exposed (``triage-central serve`` flags; docs/CENTRAL.md)."""

    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS
    """Host names (without port) the dashboard answers to."""
    local: bool = True
    """Listening on loopback only: without any account, the visitor is the local admin."""
    secure_cookies: bool = False
    """Behind TLS: cookies get Secure (and the ``__Host-`` prefix), pages get HSTS."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses (or networks) of reverse proxies whose X-Forwarded-For and SSO header count."""
    sso_header: str | None = None
    """The trusted proxy's authenticated-user header, e.g. ``X-Remote-User``."""
    legacy_token: str | None = field(default=None, repr=False)
    """The deprecated shared ``--token``: accepted as an administrator's API token."""

    @property
    def session_cookie(self) -> str:
        return SECURE_SESSION_COOKIE if self.secure_cookies else SESSION_COOKIE


@dataclass(frozen=True)
class RequestAuth:
    """What the guard found out about one request, for pages."""

    viewer: Viewer | None
    csrf: str
    via: str
    """session, token, sso, local or anonymous."""


_CURRENT: ContextVar[RequestAuth | None] = ContextVar("triage_request_auth", default=None)


class _CsrfInput:
    """The Jinja2 global ``csrf_input``: this request's hidden CSRF field."""

    def __html__(self) -> str:
        got = _CURRENT.get()
        token = got.csrf if got is not None else ""
        return f'<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(token)}">'

    def __str__(self) -> str:
        return self.__html__()


CSRF_INPUT: Final = _CsrfInput()


def current() -> RequestAuth | None:
    """The guard's findings for the request being rendered (a Jinja2 global ``current_auth``)."""
    return _CURRENT.get()


def csrf_markup() -> Markup:
    return Markup(CSRF_INPUT.__html__())  # noqa: S704 - escaped above


def _in(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for n in networks:
        try:
            if ip in ipaddress.ip_network(n, strict=False):
                return True
        except ValueError:
            continue
    return False


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        out[k.decode("latin-1").lower()] = v.decode("latin-1")
    return out


def _cookies(raw: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:  # a malformed cookie header is no cookie
        return {}
    return {k: m.value for k, m in jar.items()}


def host_name(value: str) -> str:
    """``Host`` without its port, lower case (``[::1]:8080`` -> ``::1``)."""
    v = value.strip().lower()
    if v.startswith("["):
        return v[1 : v.find("]")] if "]" in v else v
    return v.rsplit(":", 1)[0] if v.count(":") == 1 else v


def client_address(scope: Scope, headers: dict[str, str], security: WebSecurity) -> str:
    """The client's address: the peer, or the address a trusted proxy forwarded for."""
    peer = (scope.get("client") or ("", 0))[0] or ""
    fwd = headers.get("x-forwarded-for", "")
    if fwd and _in(peer, security.trusted_proxies):
        return fwd.split(",")[-1].strip()[:64]
    return str(peer)


def cookie_header(
    name: str, value: str, security: WebSecurity, max_age: int | None, *, http_only: bool = True
) -> str:
    parts = [f"{name}={value}", "Path=/", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if http_only:
        parts.append("HttpOnly")
    if security.secure_cookies:
        parts.append("Secure")
    return "; ".join(parts)


def is_public(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC_PATHS) or (
        path.startswith("/public")
    )


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Guard:
    """The middleware (see the module's docstring)."""

    def __init__(self, app: ASGIApp, engine: Engine, security: WebSecurity) -> None:
        self.app = app
        self.engine = engine
        self.security = security

    def _security_headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if self.security.secure_cookies:
            out.append((b"strict-transport-security", b"max-age=31536000"))
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._security_headers()
        headers = _headers(scope)
        if host_name(headers.get("host", "")) not in self.security.allowed_hosts:
            await _plain(send, 400, "unknown host name\n", extra)
            return
        started = False
        set_cookies: list[str] = []

        async def send_wrapped(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                hs = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {h for h, _ in extra}
                ]
                hs += extra
                if not any(k.lower() == b"cache-control" for k, _ in hs):
                    hs.append((b"cache-control", b"no-store"))
                hs += [(b"set-cookie", c.encode("latin-1")) for c in set_cookies]
                message["headers"] = hs
            await send(message)

        try:
            await self._handle(scope, receive, send_wrapped, headers, set_cookies, extra)
        except Exception:
            log.exception("error answering %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _plain(
                    send,
                    500,
                    "Internal error: it has been logged. / 内部错误，已记录。\n",  # noqa: RUF001
                    extra,
                )

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        set_cookies: list[str],
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        sec = self.security
        path: str = scope.get("path", "/")
        method: str = scope.get("method", "GET")
        cookies = _cookies(headers.get("cookie", ""))
        address = client_address(scope, headers, sec)
        scope.setdefault("state", {})["client_address"] = address
        peer = str((scope.get("client") or ("", 0))[0] or "")
        from_proxy = _in(peer, sec.trusted_proxies)
        auth = await run_in_threadpool(self._identify, headers, cookies, address, from_proxy)
        if isinstance(auth, tuple):  # refused: (status, text, retry_after)
            status, text, retry = auth
            more = [(b"retry-after", str(retry).encode())] if retry else []
            more.append((b"www-authenticate", b"Bearer"))
            await _plain(send, status, text, extra + more)
            return
        if auth.via in ("anonymous", "local", "sso"):  # no session: double-submit cookie
            csrf = cookies.get(CSRF_COOKIE, "")
            if not 32 <= len(csrf) <= 64:
                csrf = secrets.token_urlsafe(32)
                set_cookies.append(cookie_header(CSRF_COOKIE, csrf, sec, None))
            auth = RequestAuth(auth.viewer, csrf, auth.via)
        state = scope["state"]
        state["auth"] = auth
        if auth.viewer is not None:
            state["viewer"] = auth.viewer
        if auth.viewer is None and not is_public(path):
            if method == "GET" and not path.endswith(".csv"):
                query = scope.get("query_string", b"").decode("latin-1")
                target = path + ("?" + query if query else "")
                await send(
                    {
                        "type": "http.response.start",
                        "status": 303,
                        "headers": [(b"location", f"/login?next={quote(target)}".encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
            await _plain(send, 401, "sign-in required\n", [(b"www-authenticate", b"Bearer")])
            return
        if method not in ("GET", "HEAD", "OPTIONS") and auth.via != "token":
            body, ok = await self._check_csrf(receive, headers, auth.csrf)
            if not ok:
                await _plain(send, 403, "form expired or forged (CSRF); reload the page\n", [])
                return
            receive = _replay(body)
        token = _CURRENT.set(auth)
        try:
            await self.app(scope, receive, send)
        finally:
            _CURRENT.reset(token)

    async def _check_csrf(
        self, receive: Receive, headers: dict[str, str], expected: str
    ) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                break
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > MAX_FORM:
                return b"", False
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        given = headers.get("x-csrf-token", "")
        ctype = headers.get("content-type", "")
        if not given and ctype.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            given = (form.get(CSRF_FIELD) or [""])[0]
        elif not given and ctype.startswith("multipart/form-data"):
            given = _multipart_field(body, ctype, CSRF_FIELD)
        ok = bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
        return body, ok

    def _identify(
        self, headers: dict[str, str], cookies: dict[str, str], address: str, from_proxy: bool
    ) -> RequestAuth | tuple[int, str, int]:
        sec = self.security
        with self.engine.begin() as conn:
            auth = headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                given = auth[7:].strip()
                block = throttle.blocked(conn, [throttle.address_key(address)])
                if block is not None:
                    return (429, "too many failed attempts; try later\n", block.retry_after)
                if sec.legacy_token and hmac.compare_digest(
                    given.encode(), sec.legacy_token.encode()
                ):
                    return RequestAuth(
                        Viewer(name=LEGACY_TOKEN_USER, role="admin", sites=None), "", "token"
                    )
                account = sessions.account_for_token(conn, given)
                if account is None:
                    throttle.failed(conn, throttle.address_key(address), throttle.ADDRESS_LIMIT)
                    return (401, "unknown or revoked token\n", 0)
                return RequestAuth(users.viewer_for(conn, account), "", "token")
            if sec.sso_header:
                name = headers.get(sec.sso_header.lower(), "").strip().lower()
                if name and from_proxy:
                    account = users.get(conn, name)
                    if account is None or account.locked:
                        return (403, "this user has no account on the dashboard\n", 0)
                    return RequestAuth(users.viewer_for(conn, account), "", "sso")
            sid = cookies.get(sec.session_cookie, "")
            if sid:
                found = sessions.resolve(conn, sid)
                if found is not None:
                    return RequestAuth(users.viewer_for(conn, found.account), found.csrf, "session")
            if sec.local and users.count(conn) == 0:
                return RequestAuth(LOCAL_ADMIN, "", "local")
        return RequestAuth(None, "", "anonymous")


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _multipart_field(body: bytes, ctype: str, name: str) -> str:
    marker = f'name="{name}"'.encode()
    at = body.find(marker)
    if at < 0:
        return ""
    start = body.find(b"\r\n\r\n", at)
    end = body.find(b"\r\n--", start + 4)
    if start < 0 or end < 0:
        return ""
    return body[start + 4 : end].decode("utf-8", "replace").strip()
