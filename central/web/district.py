"""The district's pages read from the rollups: the fleet at a glance (``/``), the daily
notification (``/day``) and its CSV (``/day.csv``, streamed), each filtered, searched and paged on
the server and restricted to the viewer's clinics (``viewer(request).sites``), in the
installation's language. Clinic names come from the registry (central/registry) when it has them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse

from central.i18n import N_, Translator
from central.loop import escalation
from central.loop.cases import open_per_site
from central.registry.clinics import clinic_names
from central.report import notification_render, render, words
from central.report.kinds import KINDS
from central.report.notification import Filters, all_clinics, notification
from central.report.trends import district_week, trend_svg
from central.report.weekly import WeekReport
from central.web.glance import GROUPS, GlanceFilters, glance
from central.web.identity import viewer

OPEN_SHOWN = 100
"""Open problems listed on the fleet page (oldest first; the rest on /day?open=1)."""

GROUP_LABELS = {
    "offline": N_("Offline"),
    "silent": N_("Silent"),
    "sources": N_("Camera or thermometer not ok"),
    "problems": N_("Open problems"),
    "ok": N_("OK"),
}


def names(engine: Engine, sites: frozenset[str] | None) -> dict[str, str]:
    """Registry names by clinic id (empty when the registry has none)."""
    with engine.connect() as conn:
        return clinic_names(conn, sites)


def fleet_page(
    request: Request, engine: Engine, tz: ZoneInfo, t: Translator, env: Environment,
    now: float | None = None,
) -> Response:  # fmt: skip
    sites = viewer(request).sites
    known = names(engine, sites)
    g = glance(engine, tz, sites, GlanceFilters.from_query(request.query_params), known, now)
    html = env.get_template("glance.html").render(
        base="", standalone=False, tz_name=tz.key, token_q="", refresh=30, g=g, groups=GROUPS,
        group_label=lambda name: t.gettext(GROUP_LABELS[name]), kinds=KINDS, words=words,
        clock=lambda ts: words.clock(ts, tz, t, g.window.first), open_limit=OPEN_SHOWN,
    )  # fmt: skip
    return HTMLResponse(html)


def day_page(
    request: Request, engine: Engine, day: date, tz: ZoneInfo, t: Translator,
    now: float | None = None,
) -> Response:  # fmt: skip
    sites = viewer(request).sites
    n = notification(engine, day, tz, sites, Filters.from_query(request.query_params),
                     names(engine, sites), now)  # fmt: skip
    return HTMLResponse(
        notification_render.html(n, t, standalone=False, base="", tz_name=tz.key, token_q="")
    )


def day_csv(
    request: Request, engine: Engine, day: date, tz: ZoneInfo, t: Translator,
    now: float | None = None,
) -> Response:  # fmt: skip
    sites = viewer(request).sites
    filters = Filters.from_query(request.query_params)
    head, clinics = all_clinics(engine, day, tz, sites, filters, names(engine, sites), now)

    def body() -> Iterator[str]:
        yield from notification_render.csv_rows(head, clinics, t)

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="triage-day-{day.isoformat()}.csv"'},
    )


def week_html(
    request: Request,
    engine: Engine,
    report: WeekReport,
    year_week: tuple[int, int],
    tz: ZoneInfo,
    t: Translator,
) -> str:
    """``/week``: the district's totals per kind, the clinics ranked (with their open cases), the
    8-week trend, the week's notices and escalations, then the counts per clinic (the viewer's
    clinics). The loop's readings are composed here: central.report does not import central.loop."""
    sites = viewer(request).sites
    d = district_week(engine, *year_week, tz, sites)
    with engine.connect() as conn:
        loop_week = escalation.escalations_of_week(conn, *year_week, sites)
        open_cases = open_per_site(conn, sites)
    return render.week_html(
        report, standalone=False, t=t, tz_name=tz.key, district=d, trend_svg=trend_svg(d, t),
        kinds=KINDS, names=names(engine, sites), loop_week=loop_week, open_cases=open_cases,
    )  # fmt: skip
