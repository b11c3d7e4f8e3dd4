"""``triage-central serve``: a Starlette app with server-rendered pages (Jinja2, inline SVG).

Pages: ``/`` the fleet at a glance, ``/clinic/<site>`` a clinic's day (timeline per desk and its
problems), ``/day`` the daily notification (``/day.csv``), ``/week`` the weekly counts
(``/week.csv``). Listens on 127.0.0.1 by default. Bound to any other address it refuses to start
without an access token; with a token every page needs it (``Authorization: Bearer <token>``, or
the login form, which sets a cookie). ``/healthz`` answers without a token.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from datetime import date
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from central.config import CentralSettings, ConfigError, zone
from central.report.daily import daily_report
from central.report.days import clock, duration_text, parse_date, parse_week, today
from central.report.labels import family_for, value_text
from central.report.render import (
    day_csv,
    day_html,
    templates,
    week_csv,
    week_html,
)
from central.report.rows import check_text, minutes_text, problem_rows, status_text
from central.report.weekly import weekly_report
from central.store import reader
from central.store.db import open_db
from central.store.records import NAME
from central.web.fleet import fleet
from central.web.timeline import svg

log = logging.getLogger(__name__)
COOKIE = "triage_central_token"
Endpoint = Callable[[Request], Awaitable[Response]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(engine: Engine, tz: ZoneInfo, token: str | None = None) -> Starlette:
    """The dashboard application over a migrated database."""
    env = templates()

    def page(name: str, **ctx: object) -> HTMLResponse:
        html = env.get_template(name).render(
            base="", standalone=False, tz_name=tz.key, token_q="", **ctx
        )
        return HTMLResponse(html)

    def authorised(request: Request) -> bool:
        if token is None:
            return True
        given = request.cookies.get(COOKIE, "")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def guarded(fn: Callable[[Request], Response]) -> Endpoint:
        async def wrapper(request: Request) -> Response:
            if not authorised(request):
                if request.url.path.endswith(".csv"):
                    return PlainTextResponse("token required\n", status_code=401)
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            try:
                return await run_in_threadpool(fn, request)
            except ConfigError as exc:
                return PlainTextResponse(f"{exc}\n", status_code=400)

        return wrapper

    def day_of(request: Request) -> date:
        text = request.query_params.get("date") or "today"
        return parse_date(text, tz)

    def fleet_page(request: Request) -> Response:
        f = fleet(engine, tz)
        return page(
            "fleet.html",
            fleet=f,
            refresh=30,
            clock=lambda ts: clock(ts, tz, f.window.first),
            ago=lambda ts: duration_text(f.generated - ts),
            family_for=family_for,
            value_text=value_text,
        )

    def clinic_page(request: Request) -> Response:
        site = request.path_params["site"]
        if not NAME.match(site):
            return PlainTextResponse("no such clinic\n", status_code=404)
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
        return page(
            "clinic.html",
            site=site,
            report=report,
            charts=charts,
            problem_rows=problem_rows,
            check_text=check_text,
            status_text=status_text,
            minutes_text=minutes_text,
            refresh=60 if day == today(tz) else None,
        )

    def day_page(request: Request) -> Response:
        report = daily_report(engine, day_of(request), tz)
        html = day_html(report, standalone=False, tz_name=tz.key)
        return HTMLResponse(html)

    def day_csv_page(request: Request) -> Response:
        report = daily_report(engine, day_of(request), tz)
        name = f"triage-day-{report.day.isoformat()}.csv"
        return Response(
            day_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    def week_of(request: Request) -> tuple[int, int]:
        return parse_week(request.query_params.get("week") or "this", tz)

    def week_page(request: Request) -> Response:
        report = weekly_report(engine, *week_of(request), tz)
        return HTMLResponse(week_html(report, standalone=False, tz_name=tz.key))

    def week_csv_page(request: Request) -> Response:
        report = weekly_report(engine, *week_of(request), tz)
        return Response(
            week_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="triage-week-{report.title}.csv"'
            },
        )

    async def login(request: Request) -> Response:
        nxt = request.query_params.get("next", "/")
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        error = ""
        if request.method == "POST":
            form = parse_qs((await request.body()).decode("utf-8", "replace"))
            given = (form.get("token") or [""])[0]
            if token is not None and hmac.compare_digest(given.encode(), token.encode()):
                resp = RedirectResponse(nxt, status_code=303)
                resp.set_cookie(COOKIE, given, httponly=True, samesite="strict")
                return resp
            error = "That token is not right."
            await asyncio.sleep(0.5)
        return page("login.html", next=nxt, error=error)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    routes = [
        Route("/", guarded(fleet_page)),
        Route("/clinic/{site}", guarded(clinic_page)),
        Route("/day", guarded(day_page)),
        Route("/day.csv", guarded(day_csv_page)),
        Route("/week", guarded(week_page)),
        Route("/week.csv", guarded(week_csv_page)),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/healthz", healthz),
    ]
    return Starlette(routes=routes)


def run_server(settings: CentralSettings, bind: str, port: int, token: str | None) -> int:
    """Serve until interrupted; refuses a non-loopback address without a token."""
    if not is_loopback(bind) and not token:
        raise ConfigError(
            f"bind: {bind} is reachable from other machines: set an access token "
            "(--token or TRIAGE_CENTRAL_TOKEN) or bind to 127.0.0.1"
        )
    tz = zone(settings.tz)
    engine = open_db(settings.db)
    app = create_app(engine, tz, token or None)
    log.info("dashboard on http://%s:%d/ (%s)", bind, port, tz.key)
    uvicorn.run(app, host=bind, port=port, log_level="warning")
    return 0
