"""Signing in and out, and one's own account: ``/login`` (GET, POST; throttled by
central/accounts/users.py), ``/logout`` (POST), ``/account`` (one's role and API tokens),
``/account/tokens`` (create one: its secret is shown once) and ``/account/tokens/<pk>/revoke``.

The account's pages answer 404 to the local administrator and the deprecated shared token (no
account behind them); a token is revoked only by its owner.
"""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from central.accounts import sessions
from central.accounts import users as accounts
from central.accounts.roles import Viewer
from central.web.guard import RequestAuth, cookie_header
from central.web.identity import Forbidden, viewer
from central.web.page_kit import PageKit, form_of


def routes(kit: PageKit) -> list[Route]:
    """The routes of this module."""
    engine, t, sec = kit.engine, kit.t, kit.security
    page, role_label = kit.page, kit.role_label

    def auth_of(request: Request) -> RequestAuth:
        got = getattr(request.state, "auth", None)
        if not isinstance(got, RequestAuth):
            raise Forbidden(403)
        return got

    def safe_next(value: str) -> str:
        ok = value.startswith("/") and not value.startswith("//") and "\\" not in value
        return value if ok and value.isprintable() else "/"

    # --- sign-in -----------------------------------------------------------------------------
    async def login(request: Request) -> Response:
        nxt = safe_next(request.query_params.get("next", "/"))
        if request.method != "POST":
            return page("login.html", next=nxt, username="", error="")
        form = await form_of(request)
        name = form.get("username", "").strip().lower()[:64]
        address = str(request.state.client_address)

        def check() -> tuple[accounts.SignIn, str | None]:
            with engine.begin() as conn:
                got = accounts.authenticate(conn, name, form.get("password", ""), address)
                sid = sessions.start(conn, got.account)[0] if got.account else None
            return got, sid

        got, sid = await run_in_threadpool(check)
        if got.account is None or sid is None:
            messages = {
                "wrong": t.gettext("Wrong user name or password."),
                "account_locked": t.gettext("This account is locked: ask an administrator."),
                "locked_out": t.gettext(
                    "Too many failed sign-ins: try again later or ask an administrator."
                ),
            }
            if got.refused == "wrong":
                await asyncio.sleep(0.2)
            status = 429 if got.refused == "locked_out" else 401
            resp = page("login.html", status, next=nxt, username=name, error=messages[got.refused])
            if got.retry_after:
                resp.headers["retry-after"] = str(got.retry_after)
            return resp
        done = RedirectResponse(nxt, status_code=303)
        done.headers.append(
            "set-cookie", cookie_header(sec.session_cookie, sid, sec, int(sessions.MAX_AGE_S))
        )
        return done

    async def logout(request: Request) -> Response:
        sid = request.cookies.get(sec.session_cookie, "")

        def end() -> None:
            with engine.begin() as conn:
                sessions.end(conn, sid)

        await run_in_threadpool(end)
        resp = RedirectResponse("/login", status_code=303)
        resp.headers.append("set-cookie", cookie_header(sec.session_cookie, "", sec, 0))
        return resp

    # --- one's own account -------------------------------------------------------------------
    def own_account(request: Request) -> tuple[Viewer, accounts.Account]:
        v = viewer(request)
        auth = auth_of(request)
        if auth.via == "local" or (auth.via == "token" and v.name == "legacy-token"):
            raise Forbidden(404)
        with engine.connect() as conn:
            found = accounts.get(conn, v.name)
        if found is None:
            raise Forbidden(404)
        return v, found

    async def account_page(request: Request, secret: str = "") -> Response:
        def build() -> Response:
            _v, acc = own_account(request)
            with engine.connect() as conn:
                tks = sessions.tokens(conn, acc.username)
            return page(
                "account.html", account=acc, role_label=role_label(acc), tokens=tks, secret=secret
            )

        return await run_in_threadpool(build)

    async def token_create(request: Request) -> Response:
        form = await form_of(request)

        def make() -> str:
            v, acc = own_account(request)
            with engine.begin() as conn:
                return sessions.create_token(
                    conn, accounts.Actor(v.name, v.role), acc.username, form.get("label", "")
                )[0]

        secret = await run_in_threadpool(make)
        return await account_page(request, secret)

    async def token_revoke(request: Request) -> Response:
        def revoke() -> None:
            v, acc = own_account(request)
            try:
                pk = int(request.path_params["pk"])
            except ValueError:
                raise Forbidden(404) from None
            with engine.begin() as conn:
                try:
                    sessions.revoke_token(conn, accounts.Actor(v.name, v.role), pk, acc.username)
                except accounts.AccountError:
                    raise Forbidden(404) from None

        await run_in_threadpool(revoke)
        return RedirectResponse("/account", status_code=303)

    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/account", account_page),
        Route("/account/tokens", token_create, methods=["POST"]),
        Route("/account/tokens/{pk}/revoke", token_revoke, methods=["POST"]),
    ]
