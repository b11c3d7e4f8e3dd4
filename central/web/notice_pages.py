"""The loop's day and its notices: ``/loop`` (the day's drafts and issued notices, overdue cases,
each clinic's escalation standing, breaches of closure orders, desks whose clinic is not in the
registry), ``/loop/draft``, ``/loop/issue`` and ``/loop/drop`` (POST: draft the day, issue the
chosen clinics' notices, drop a problem from a draft) and one notice (``/notice/<number>``, its
cases and audit trail; ``/notice/<number>.txt``). Permission and scope are checked on the server
(central/web/loop_kit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from central.audit.trail import entries
from central.i18n import N_
from central.loop import cases as case_ops
from central.loop import escalation, notices
from central.loop.render import notice_text, view
from central.registry.clinics import known_sites
from central.report.days import today
from central.store import reader
from central.web.identity import viewer
from central.web.loop_kit import (
    Handler,
    LoopPages,
    RefusedError,
    back,
    day_of,
    form_of,
    in_scope,
    list_of,
    need,
    number_of,
    text_of,
    viewer_sites,
)


def routes(pages: LoopPages, guard: Callable[[Handler], Any]) -> list[Route]:
    """The routes of this module; ``guard`` is the dashboard's wrapper (token, thread pool,
    errors)."""
    engine, tz, settings = pages.engine, pages.tz, pages.settings
    render, safe = pages.render, pages.safe

    # -- the day: drafts, issued notices, overdue cases, escalation, breaches --------------------
    def loop_day(request: Request) -> Response:
        v, t = viewer(request), pages.t(request)
        need(v, "view")
        day = day_of(request.query_params.get("date", ""), tz)
        now_day = today(tz)
        with engine.connect() as conn:
            sites = None if v.sites is None else sorted(v.sites)
            ds = notices.drafts(conn, day, sites)
            issued = notices.notices_of_day(conn, day, sites)
            late = case_ops.overdue(conn, now_day, sites)
            standing = escalation.standing(conn, day, settings, sites)
            breaches = escalation.closure_breaches(
                conn, now_day - timedelta(days=7), now_day, sites
            )
            known = known_sites(conn)
        desks = reader.desks(engine)
        unknown = sorted({d.site for d in desks if d.site not in known and v.sees(d.site)})
        return render(
            request, "loop/day.html", t, day=day, drafts=ds, issued=issued, overdue=late,
            standing=standing, breaches=breaches, unknown=unknown, settings=settings,
            may_issue=v.may("notice.issue"), may_drop=v.may("notice.drop_problem"),
            prev_day=day - timedelta(days=1), next_day=day + timedelta(days=1),
        )  # fmt: skip

    def loop_draft(request: Request) -> Response:
        v = viewer(request)
        need(v, "notice.issue")
        form = form_of(request)
        day = day_of(text_of(form, "date"), tz)
        notices.draft_day(engine, day, tz, settings, actor=v.name, role=v.role)
        return back(f"/loop?date={day}")

    def loop_issue(request: Request) -> Response:
        v = viewer(request)
        need(v, "notice.issue")
        form = form_of(request)
        day = day_of(text_of(form, "date"), tz)
        chosen = list_of(form, "site")
        if not chosen:
            raise RefusedError(400, N_("site: choose the clinics whose notices to issue"))
        for s in chosen:
            in_scope(v, s)
        with engine.begin() as conn:
            notices.issue(conn, day, settings, actor=v.name, role=v.role, sites=chosen)
        return back(f"/loop?date={day}")

    def loop_drop(request: Request) -> Response:
        v = viewer(request)
        need(v, "notice.drop_problem")
        form = form_of(request)
        draft_id = number_of(text_of(form, "draft"), "draft")
        with engine.begin() as conn:
            d = notices.draft(conn, draft_id)
            if d is None:
                raise RefusedError(404, N_("no such draft"))
            in_scope(v, d.site)
            notices.drop_problem(conn, draft_id, text_of(form, "key"), text_of(form, "reason"),
                                 actor=v.name, role=v.role)  # fmt: skip
        return back(f"/loop?date={d.day}#draft-{draft_id}")

    # -- one notice ------------------------------------------------------------------------------
    def _notice(request: Request) -> notices.IssuedNotice:
        v = viewer(request)
        need(v, "view")
        number = request.path_params["number"]
        with engine.connect() as conn:
            n = notices.notice(conn, number)
        if n is None or not v.sees(n.site):
            raise RefusedError(404, N_("no such notice"))
        return n

    def notice_page(request: Request) -> Response:
        n, t = _notice(request), pages.t(request)
        sites = viewer_sites(viewer(request))
        with engine.connect() as conn:
            cs = case_ops.list_cases(conn, notice_id=n.id)
            trail = entries(conn, sites=sites, target_kind="notice", target_id=n.number, limit=50)
            for c in cs:
                trail += entries(conn, sites=sites, target_kind="case", target_id=str(c.id),
                                 limit=50)  # fmt: skip
        trail.sort(key=lambda e: (e.at, e.pk), reverse=True)
        return render(request, "loop/notice_page.html", t, notice=n, v=view(n, t, tz), cases=cs,
                      trail=trail, page_kind="notice")  # fmt: skip

    def notice_txt(request: Request) -> Response:
        n, t = _notice(request), pages.t(request)
        return PlainTextResponse(notice_text(n, t, tz))

    return [
        Route("/loop", guard(safe(loop_day))),
        Route("/loop/draft", guard(safe(loop_draft)), methods=["POST"]),
        Route("/loop/issue", guard(safe(loop_issue)), methods=["POST"]),
        Route("/loop/drop", guard(safe(loop_drop)), methods=["POST"]),
        Route("/notice/{number}.txt", guard(safe(notice_txt))),
        Route("/notice/{number}", guard(safe(notice_page))),
    ]
