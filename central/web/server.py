"""``triage-central serve``: a Starlette app with server-rendered pages (Jinja2, inline SVG).

Pages: ``/`` the fleet at a glance, ``/clinic/<site>`` a clinic's day (timeline per desk and its
problems), ``/day`` the daily notification (``/day.csv``), ``/week`` the weekly counts
(``/week.csv``); sign-in and one's account (central/web/signin.py), the users
(central/web/user_admin.py), the audit trail (central/web/audit_pages.py), spot checks
(central/web/spotchecks.py) and the public page (central/web/public.py); the deliveries; the
supervisors' loop (central/web/notice_pages.py, case_pages.py, clinic_loop.py, registry_pages.py).
Every request passes the guard (central/web/guard.py: allowed host names, security headers, who
is asking, CSRF); every route filters by the viewer's scope. Listens on 127.0.0.1 by default;
bound to any other address it refuses to start without an administrator account
(``triage-central users add``). ``/healthz`` and ``/public`` answer without signing in.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from datetime import date
from importlib import resources
from zoneinfo import ZoneInfo

import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from central.accounts import users as accounts
from central.config import CentralSettings, ConfigError, zone
from central.i18n import N_, translator
from central.report import coverage
from central.report.daily import daily_report
from central.report.days import parse_date, parse_week, today
from central.report.render import (
    templates,
    week_csv,
)
from central.report.rows import check_text, minutes_text, problem_rows, status_text
from central.report.weekly import weekly_report
from central.store import reader
from central.store.db import open_db
from central.store.records import NAME
from central.web import (
    audit_pages,
    case_pages,
    clinic_loop,
    deliveries,
    district,
    notice_pages,
    public,
    registry_pages,
    scope,
    signin,
    spotchecks,
    user_admin,
)
from central.web.guard import CSRF_INPUT, Guard, WebSecurity, current
from central.web.identity import Forbidden, require, viewer
from central.web.loop_kit import LoopPages
from central.web.page_kit import PageKit
from central.web.timeline import svg

log = logging.getLogger(__name__)

NO_SUCH_CLINIC = N_("no such clinic")
NOT_FOUND = N_("not found")
NOT_FOR_YOUR_ROLE = N_("not allowed for your role")
Endpoint = Callable[[Request], Awaitable[Response]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(
    engine: Engine,
    tz: ZoneInfo,
    token: str | None = None,
    *,
    security: WebSecurity | None = None,
    language: str = "en",
) -> Starlette:
    """The dashboard application over a migrated database. ``token``: the deprecated shared token
    (an administrator's API token; with it, a dashboard without accounts is not open)."""
    env = templates()
    security = security or WebSecurity(local=token is None)
    if token and not security.legacy_token:
        security = dataclasses.replace(security, legacy_token=token, local=False)
    t = translator(language)
    own_env = templates(t)
    for e in {id(env): env, id(own_env): own_env}.values():
        e.globals["csrf_input"] = CSRF_INPUT
        e.globals["current_auth"] = current

    def page(name: str, **ctx: object) -> HTMLResponse:
        html = env.get_template(name).render(
            base="", standalone=False, tz_name=tz.key, token_q="", **ctx
        )
        return HTMLResponse(html)

    def own_page(name: str, **ctx: object) -> HTMLResponse:
        """A page in the installation's language."""
        html = own_env.get_template(name).render(
            base="", standalone=False, tz_name=tz.key, token_q="", **ctx
        )
        return HTMLResponse(html)

    def guarded(fn: Callable[[Request], Response]) -> Endpoint:
        async def wrapper(request: Request) -> Response:
            require(request, "view")
            try:
                return await run_in_threadpool(fn, request)
            except ConfigError as exc:
                return PlainTextResponse(f"{exc}\n", status_code=400)

        return wrapper

    def day_of(request: Request) -> date:
        text = request.query_params.get("date") or "today"
        return parse_date(text, tz)

    def fleet_page(request: Request) -> Response:
        return district.fleet_page(request, engine, tz, t, own_env)

    def clinic_page(request: Request) -> Response:
        site = request.path_params["site"]
        if not NAME.match(site):
            return PlainTextResponse(t.gettext(NO_SUCH_CLINIC) + "\n", status_code=404)
        require(request, "view", site)
        day = day_of(request)
        report = daily_report(engine, day, tz, site)
        charts = {}
        for d in report.desks:
            occ = list(
                reader.query(
                    engine, report.window.start, report.window.end, ["occupancy"], d.site, d.desk
                )
            )
            charts[d.desk] = svg(d, occ, report.window, report.generated, tz)
        return own_page(
            "clinic.html",
            site=site,
            report=report,
            charts=charts,
            problem_rows=problem_rows,
            check_text=lambda d: check_text(d, t),
            status_text=lambda d, r: status_text(d, r, t),
            minutes_text=lambda d: minutes_text(d, t),
            coverage_text=lambda c: coverage.text(c, t),
            clinic_coverage=coverage.total(d.coverage for d in report.desks),
            refresh=60 if day == today(tz) else None,
        )

    def day_page(request: Request) -> Response:
        return district.day_page(request, engine, day_of(request), tz, t)

    def day_csv_page(request: Request) -> Response:
        return district.day_csv(request, engine, day_of(request), tz, t)

    def week_of(request: Request) -> tuple[int, int]:
        return parse_week(request.query_params.get("week") or "this", tz)

    def week_page(request: Request) -> Response:
        year_week = week_of(request)
        report = scope.week(weekly_report(engine, *year_week, tz), viewer(request))
        return HTMLResponse(district.week_html(request, engine, report, year_week, tz, t))

    def week_csv_page(request: Request) -> Response:
        report = scope.week(weekly_report(engine, *week_of(request), tz), viewer(request))
        return Response(
            week_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="triage-week-{report.title}.csv"'
            },
        )

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    css = (resources.files("central") / "templates" / "central.css").read_bytes()

    async def stylesheet(request: Request) -> Response:
        return Response(css, media_type="text/css", headers={"cache-control": "max-age=3600"})

    async def forbidden(request: Request, exc: Exception) -> Response:
        status = exc.status if isinstance(exc, Forbidden) else 403
        text = t.gettext(NOT_FOUND if status == 404 else NOT_FOR_YOUR_ROLE)
        return PlainTextResponse(text + "\n", status_code=status)

    kit = PageKit(engine, tz, own_env, t, security)
    loop = LoopPages(engine, tz, language)
    routes = [
        Route("/", guarded(fleet_page)),
        Route("/clinic/{site}", guarded(clinic_page)),
        Route("/day", guarded(day_page)),
        Route("/day.csv", guarded(day_csv_page)),
        Route("/week", guarded(week_page)),
        Route("/week.csv", guarded(week_csv_page)),
        Route("/healthz", healthz),
        Route("/static/central.css", stylesheet),
        *signin.routes(kit),
        *user_admin.routes(kit),
        *audit_pages.routes(kit),
        *spotchecks.routes(kit),
        *public.routes(kit),
        *deliveries.routes(engine, tz, language, guarded),
        *notice_pages.routes(loop, guarded),
        *case_pages.routes(loop, guarded),
        *clinic_loop.routes(loop, guarded),
        *registry_pages.routes(loop, guarded),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(Guard, engine=engine, security=security)],
        exception_handlers={Forbidden: forbidden},
    )


def run_server(
    settings: CentralSettings,
    bind: str,
    port: int,
    token: str | None,
    security: WebSecurity | None = None,
) -> int:
    """Serve until interrupted. Bound beyond loopback it refuses to start without an
    administrator account; ``token`` (deprecated) is an administrator's API token."""
    tz = zone(settings.tz)
    engine = open_db(settings.db)
    local = is_loopback(bind)
    with engine.connect() as conn:
        admins = accounts.count(conn, "admin")
    if not local and admins == 0:
        raise ConfigError(
            f"bind: {bind} is reachable from other machines: add an administrator first "
            "(triage-central users add NAME --role admin) or bind to 127.0.0.1"
        )
    if token:
        if len(token) < 32:
            raise ConfigError(
                "token: the shared --token is deprecated and must be at least 32 characters; "
                "better: per-user API tokens (docs/CENTRAL.md, 'Who sees what')"
            )
        log.warning(
            "--token / TRIAGE_CENTRAL_TOKEN is deprecated: it now stands for an administrator's "
            "API token (Authorization: Bearer); create per-user tokens on /account instead"
        )
    sec = security or WebSecurity()
    if not local and sec.allowed_hosts == WebSecurity().allowed_hosts:
        if bind in ("0.0.0.0", "::"):  # noqa: S104 - checking, not binding
            raise ConfigError(
                f"allowed_hosts: bound to {bind}, name the host names the dashboard answers to "
                "(--allowed-hosts dashboard.district.example)"
            )
        sec = dataclasses.replace(sec, allowed_hosts=(*sec.allowed_hosts, bind))
    sec = dataclasses.replace(sec, local=local, legacy_token=token or None)
    app = create_app(engine, tz, security=sec, language=settings.language)
    log.info("dashboard on http://%s:%d/ (%s)", bind, port, tz.key)
    uvicorn.run(app, host=bind, port=port, log_level="warning", proxy_headers=False)
    return 0
