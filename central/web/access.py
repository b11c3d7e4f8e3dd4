"""The dashboard's pages about people and their acts: sign-in and sign-out, one's own account and
API tokens, the users page (administrators: lock, unlock, lift lock-outs), the audit trail (scoped)
and its CSV export, the double-random spot checks (draw, verify, record results) and the public,
read-only notice board (no sign-in; no personal data).

:func:`routes` gives the routes; central/web/server.py mounts them behind the guard
(central/web/guard.py), which has already identified the viewer and checked CSRF on POST.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment
from markupsafe import Markup
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from central.accounts import sessions, spotcheck, throttle
from central.accounts import users as accounts
from central.accounts.roles import Viewer
from central.audit import trail
from central.i18n import N_, Translator
from central.loop import cases, notices
from central.report.days import parse_date, today
from central.report.kinds import kind_label
from central.report.safe import csv_text
from central.web.guard import CSRF_INPUT, RequestAuth, WebSecurity, cookie_header, current
from central.web.identity import Forbidden, require, viewer

ROLE_LABELS: Final = {
    "admin": N_("district administrator"),
    "officer": N_("district officer"),
    "party": N_("party member"),
    "clinic": N_("clinic user"),
    "viewer": N_("viewer"),
}
PARTY_LABELS: Final = {
    "health_bureau": N_("health bureau"),
    "enforcement_bureau": N_("health-supervision enforcement bureau"),
    "sub_district": N_("sub-district"),
    "community": N_("community"),
}
OUTCOME_LABELS: Final = {
    "pending": N_("not yet inspected"),
    "compliant": N_("compliant"),
    "rectify": N_("rectification ordered"),
    "failed": N_("serious violation"),
}
RECT_LABELS: Final = {
    "none": N_("none needed"),
    "required": N_("required"),
    "rectified": N_("rectified"),
}
ACTION_LABELS: Final = {
    "notice.drafted": N_("notice drafted"),
    "notice.issued": N_("notice issued"),
    "notice.problem_dropped": N_("problem dropped from a notice"),
    "case.reported": N_("rectification reported"),
    "case.verified": N_("rectification verified"),
    "case.closed": N_("case closed"),
    "case.reopened": N_("case reopened"),
    "case.notified": N_("notice delivered to the clinic"),
    "escalation.raised": N_("escalated"),
    "closure.ordered": N_("ordered to close for rectification"),
    "closure.lifted": N_("closure order lifted"),
    "registry.imported": N_("registry imported"),
    "registry.edited": N_("registry edited"),
    "user.added": N_("user added"),
    "user.changed": N_("user changed"),
    "user.removed": N_("user removed"),
    "user.locked": N_("user locked"),
    "user.unlocked": N_("user unlocked"),
    "token.created": N_("API token created"),
    "token.revoked": N_("API token revoked"),
    "spotcheck.drawn": N_("spot check drawn"),
    "spotcheck.result": N_("spot-check result recorded"),
    "delivery.retried": N_("delivery retried"),
}
"""The audit trail's actions as people read them (central/audit/trail.py ACTIONS)."""
AUDIT_CSV_HEADER: Final = ["at", "actor", "role", "action", "target_kind", "target_id", "site",
                           "detail"]  # fmt: skip
PUBLIC_SECTIONS: list[Callable[[Engine, Translator], Markup]] = []
"""Other features add sections to the public page here (e.g. issued notices): each returns
escaped HTML and must publish no personal data."""


PUBLIC_DAYS: Final = 90
"""The public page lists the notices issued in the last this many days."""


@dataclass(frozen=True)
class PublicNotice:
    """An issued notice as the public page shows it: no person, only the clinic and the facts."""

    number: str
    clinic: str
    day: date
    problems: str
    deadline: date
    status: str
    done: str
    """Problems rectified (verified or closed) of all, e.g. ``2/3``."""


@dataclass(frozen=True)
class PageKit:
    """What the pages need: the database, the time zone, the language's templates, exposure."""

    engine: Engine
    tz: ZoneInfo
    env: Environment
    t: Translator
    security: WebSecurity


def routes(kit: PageKit) -> list[Route]:
    """The routes of this module."""
    engine, tz, env, t, sec = kit.engine, kit.tz, kit.env, kit.t, kit.security

    def when(ts: float | None) -> str:
        if ts is None:
            return ""
        return t.datetime(datetime.fromtimestamp(ts, tz), "short")

    def role_label(a: accounts.Account | Viewer) -> str:
        text = t.gettext(ROLE_LABELS[a.role])
        if a.party:
            text += " · " + t.gettext(PARTY_LABELS[a.party])
        return text

    def page(name: str, status: int = 200, /, **ctx: object) -> HTMLResponse:
        html = env.get_template(name).render(
            base="", standalone=False, tz_name=tz.key, when=when, **ctx
        )
        return HTMLResponse(html, status_code=status)

    async def form_of(request: Request) -> dict[str, str]:
        raw = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in raw.items()}

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

    # --- users (administrators) --------------------------------------------------------------
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

    # --- the audit trail ---------------------------------------------------------------------
    def audit_filter(request: Request) -> tuple[Viewer, dict[str, str]]:
        v = require(request, "audit.read")
        q = {
            k: request.query_params[k][:64]
            for k in ("site", "target_kind", "target_id")
            if request.query_params.get(k)
        }
        if "site" in q and not v.sees(q["site"]):
            raise Forbidden(404)
        return v, q

    def audit_entries(v: Viewer, q: Mapping[str, str], limit: int) -> list[trail.Entry]:
        sites = [q["site"]] if "site" in q else (None if v.sites is None else sorted(v.sites))
        with engine.connect() as conn:
            return trail.entries(
                conn,
                sites=sites,
                target_kind=q.get("target_kind"),
                target_id=q.get("target_id"),
                limit=limit,
            )

    def action_label(action: str) -> str:
        return t.gettext(ACTION_LABELS[action]) if action in ACTION_LABELS else action

    def detail_text(detail: Mapping[str, object]) -> str:
        return json.dumps(dict(detail), ensure_ascii=False, sort_keys=True)[:300]

    async def audit_page(request: Request) -> Response:
        v, q = audit_filter(request)
        found = await run_in_threadpool(audit_entries, v, q, 500)
        query = "?" + urlencode(q) if q else ""
        return page(
            "audit.html",
            audit=found,
            query=query,
            action_label=action_label,
            detail_text=detail_text,
        )

    async def audit_csv(request: Request) -> Response:
        v, q = audit_filter(request)
        found = await run_in_threadpool(audit_entries, v, q, 1_000_000)
        rows = (
            [datetime.fromtimestamp(e.at, tz).isoformat(timespec="seconds"), e.actor, e.role,
             e.action, e.target_kind, e.target_id, e.site or "", detail_text(e.detail)]
            for e in found
        )  # fmt: skip
        return Response(
            csv_text(AUDIT_CSV_HEADER, rows),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="triage-audit.csv"'},
        )

    # --- spot checks -------------------------------------------------------------------------
    def outcome_label(o: str) -> str:
        return t.gettext(OUTCOME_LABELS.get(o, o))

    def rect_label(r: str) -> str:
        return t.gettext(RECT_LABELS.get(r, r))

    def visible(v: Viewer, check: spotcheck.SpotCheck) -> tuple[spotcheck.ClinicResult, ...]:
        return tuple(r for r in check.results if v.sees(r.site))

    async def checks_page(request: Request, error: str = "", status: int = 200) -> Response:
        v = require(request, "view")

        def build() -> Response:
            with engine.connect() as conn:
                found = [c for c in spotcheck.listing(conn) if visible(v, c)]
                n_cl = len(spotcheck.candidate_clinics(conn)) if v.may("spotcheck.draw") else 0
                n_in = len(spotcheck.candidate_inspectors(conn)) if v.may("spotcheck.draw") else 0
            shown = [spotcheck.SpotCheck(**{**c.__dict__, "results": visible(v, c)}) for c in found]
            return page(
                "spotchecks.html",
                status,
                checks=shown,
                may_draw=v.may("spotcheck.draw"),
                today=today(tz).isoformat(),
                clinics=n_cl,
                inspectors=n_in,
                error=error,
            )

        return await run_in_threadpool(build)

    async def draw(request: Request) -> Response:
        v = require(request, "spotcheck.draw")
        form = await form_of(request)

        def run() -> str:
            try:
                day: date = parse_date(form.get("day", "") or "today", tz)
                n, m = int(form.get("n", "")), int(form.get("m", ""))
            except (ValueError, Exception) as exc:
                raise spotcheck.SpotCheckError(str(exc)) from None
            with engine.begin() as conn:
                return spotcheck.draw(conn, actor=v.name, role=v.role, day=day, n=n, m=m).id

        try:
            check_id = await run_in_threadpool(run)
        except spotcheck.SpotCheckError as exc:
            return await checks_page(request, str(exc), 400)
        return RedirectResponse(f"/spotchecks/{check_id}", status_code=303)

    async def check_page(request: Request) -> Response:
        v = require(request, "view")

        def build() -> Response:
            with engine.connect() as conn:
                found = spotcheck.get(conn, request.path_params["check_id"])
                if found is None or not visible(v, found):
                    raise Forbidden(404)
                results = visible(v, found)
                facts = {r.site: spotcheck.facts(conn, found.day, r.site) for r in results}
                verified = spotcheck.verify(conn, found.id)
                audit = None
                if v.may("audit.read"):
                    sites = None if v.sites is None else sorted(v.sites)
                    audit = trail.entries(
                        conn, sites=sites, target_kind="spotcheck", target_id=found.id
                    )
            extra: dict[str, object] = {"audit": audit} if audit is not None else {}
            return page(
                "spotcheck.html",
                check=found,
                results=results,
                facts=facts,
                verified=verified,
                show_people=v.sites is None,
                may_record=v.may("spotcheck.record"),
                outcomes=spotcheck.OUTCOMES,
                rectifications=spotcheck.RECTIFICATIONS,
                outcome_label=outcome_label,
                rect_label=rect_label,
                action_label=action_label,
                detail_text=detail_text,
                **extra,
            )

        return await run_in_threadpool(build)

    async def record(request: Request) -> Response:
        site = request.path_params["site"]
        v = require(request, "spotcheck.record", site)
        check_id = request.path_params["check_id"]
        form = await form_of(request)

        def run() -> None:
            with engine.begin() as conn:
                spotcheck.record_result(
                    conn, actor=v.name, role=v.role, check_id=check_id, site=site,
                    outcome=form.get("outcome", ""), rectification=form.get("rectification", ""),
                    finding=form.get("finding", ""),
                )  # fmt: skip

        try:
            await run_in_threadpool(run)
        except spotcheck.SpotCheckError as exc:
            return Response(f"{exc}\n", status_code=400, media_type="text/plain")
        return RedirectResponse(f"/spotchecks/{check_id}", status_code=303)

    # --- the public page ---------------------------------------------------------------------
    def public_notices(conn: Connection) -> list[PublicNotice]:
        since = time.time() - PUBLIC_DAYS * 86400
        out = []
        for n in notices.issued_since(conn, since, limit=200):
            states = [c.state for c in cases.list_cases(conn, notice_id=n.id)]
            done = sum(1 for st in states if st in ("verified", "closed"))
            reported = sum(1 for st in states if st == "reported")
            if states and done == len(states):
                status = t.gettext("rectified")
            elif reported:
                status = t.gettext("rectification reported, being verified")
            else:
                status = t.gettext("awaiting rectification")
            out.append(
                PublicNotice(
                    number=n.number,
                    clinic=n.clinic_name,
                    day=n.day,
                    problems=", ".join(kind_label(k, t) for k in n.kinds),
                    deadline=n.deadline,
                    status=status,
                    done=f"{done}/{len(states)}",
                )
            )
        return out

    async def public_page(request: Request) -> Response:
        def build() -> Response:
            with engine.connect() as conn:
                found = spotcheck.listing(conn)
                issued = public_notices(conn)
            sections = [fn(engine, t) for fn in PUBLIC_SECTIONS]
            return page(
                "public.html",
                checks=found,
                notices=issued,
                outcome_label=outcome_label,
                rect_label=rect_label,
                extra_sections=sections,
            )

        return await run_in_threadpool(build)

    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/account", account_page),
        Route("/account/tokens", token_create, methods=["POST"]),
        Route("/account/tokens/{pk}/revoke", token_revoke, methods=["POST"]),
        Route("/users", users_page),
        Route("/users/unlock-address", unlock_address, methods=["POST"]),
        Route("/users/{name}/{act}", user_act, methods=["POST"]),
        Route("/audit", audit_page),
        Route("/audit.csv", audit_csv),
        Route("/spotchecks", checks_page),
        Route("/spotchecks/draw", draw, methods=["POST"]),
        Route("/spotchecks/{check_id}", check_page),
        Route("/spotchecks/{check_id}/{site}", record, methods=["POST"]),
        Route("/public", public_page),
    ]


__all__ = ["CSRF_INPUT", "PUBLIC_SECTIONS", "PageKit", "current", "routes"]
