"""The users page (``/users``, administrators only: ``users.manage``): every account, who is
locked or locked out, the client addresses locked out, and the users' own audit entries; lock and
unlock an account (``/users/<name>/lock``, ``/users/<name>/unlock``) and lift an address's
lock-out (``/users/unlock-address``). Each act is in the audit trail (central/accounts/users.py).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from central.accounts import throttle
from central.accounts import users as accounts
from central.audit import trail
from central.web.identity import Forbidden, require
from central.web.page_kit import PageKit, form_of


def routes(kit: PageKit) -> list[Route]:
    """The routes of this module."""
    engine = kit.engine
    page, role_label = kit.page, kit.role_label
    action_label, detail_text = kit.action_label, kit.detail_text

    async def users_page(request: Request) -> Response:
        require(request, "users.manage")

        def build() -> Response:
            with engine.connect() as conn:
                accs = accounts.listing(conn)
                locked = throttle.locked_keys(conn)
                audit = trail.entries(conn, target_kind="user", limit=100)
                audit += trail.entries(conn, target_kind="address", limit=20)
            out = {k.split(":", 1)[1] for k in locked if k.startswith("account:")}
            addresses = sorted(
                (k.split(":", 1)[1], u) for k, u in locked.items() if k.startswith("address:")
            )
            return page(
                "users.html",
                accounts=accs,
                locked_out=out,
                addresses=addresses,
                role_label=role_label,
                audit=sorted(audit, key=lambda e: -e.at),
                action_label=action_label,
                detail_text=detail_text,
            )

        return await run_in_threadpool(build)

    async def user_act(request: Request) -> Response:
        v = require(request, "users.manage")
        name = request.path_params["name"]
        act = request.path_params["act"]
        actor = accounts.Actor(v.name, v.role)
        form = await form_of(request)

        def run() -> None:
            with engine.begin() as conn:
                try:
                    if act == "lock":
                        accounts.lock(conn, actor, name)
                    elif act == "unlock":
                        accounts.unlock(conn, actor, name)
                    else:
                        raise Forbidden(404)
                except accounts.AccountError:
                    raise Forbidden(404) from None

        def run_address() -> None:
            with engine.begin() as conn:
                accounts.unlock_address(conn, actor, form.get("address", "")[:64])

        if name == "unlock-address" and act == "":
            await run_in_threadpool(run_address)
        else:
            await run_in_threadpool(run)
        return RedirectResponse("/users", status_code=303)

    async def unlock_address(request: Request) -> Response:
        request.path_params.update({"name": "unlock-address", "act": ""})
        return await user_act(request)

    return [
        Route("/users", users_page),
        Route("/users/unlock-address", unlock_address, methods=["POST"]),
        Route("/users/{name}/{act}", user_act, methods=["POST"]),
    ]
