"""The loop's cases: ``/cases`` (the viewer's clinics' cases, by state or overdue), ``/case/<id>``
(one case, what was seen later at its desk, its audit trail) and ``/case/<id>/<action>`` (POST:
report, verify, reject or close, each with its permission). Permission and scope are checked on
the server (central/web/loop_kit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from central.audit.trail import entries
from central.i18n import N_
from central.loop import cases as case_ops
from central.report.days import today
from central.web.identity import viewer
from central.web.loop_kit import (
    Handler,
    LoopPages,
    RefusedError,
    back,
    form_of,
    need,
    number_of,
    text_of,
    viewer_sites,
)


def routes(pages: LoopPages, guard: Callable[[Handler], Any]) -> list[Route]:
    """The routes of this module; ``guard`` is the dashboard's wrapper (token, thread pool,
    errors)."""
    engine, tz = pages.engine, pages.tz
    render, safe = pages.render, pages.safe

    def case_list(request: Request) -> Response:
        v, t = viewer(request), pages.t(request)
        need(v, "view")
        state = request.query_params.get("state", "")
        if state and state not in (*case_ops.STATES, "overdue"):
            raise RefusedError(
                400, N_("state: %(state)s is not one of %(states)s"), state=repr(state[:20]),
                states=", ".join(case_ops.STATES),
            )  # fmt: skip
        sites = None if v.sites is None else sorted(v.sites)
        with engine.connect() as conn:
            if state == "overdue":
                cs = case_ops.overdue(conn, today(tz), sites)
            else:
                cs = case_ops.list_cases(conn, sites=sites, states=[state] if state else None)
        return render(request, "loop/cases.html", t, cases=cs, state=state, today=today(tz),
                      states=case_ops.STATES)  # fmt: skip

    def _case(request: Request) -> case_ops.Case:
        v = viewer(request)
        need(v, "view")
        case_id = number_of(request.path_params["case_id"], "case")
        with engine.connect() as conn:
            c = case_ops.get(conn, case_id)
        if c is None or not v.sees(c.site):
            raise RefusedError(404, N_("no such case"))
        return c

    def case_page(request: Request) -> Response:
        c, t, v = _case(request), pages.t(request), viewer(request)
        with engine.connect() as conn:
            later = case_ops.later_facts(conn, c, today(tz))
            trail = entries(conn, sites=viewer_sites(v), target_kind="case", target_id=str(c.id),
                            limit=50)  # fmt: skip
        return render(request, "loop/case.html", t, case=c, later=later, trail=trail,
                      page_kind="case", today=today(tz), may_report=v.may("case.report"),
                      may_verify=v.may("case.verify"), may_close=v.may("case.close"))  # fmt: skip

    def case_action(request: Request) -> Response:
        c, v = _case(request), viewer(request)
        action = request.path_params["action"]
        form = form_of(request)
        with engine.begin() as conn:
            if action == "report":
                need(v, "case.report")
                case_ops.report(conn, c.id, text_of(form, "text"), actor=v.name, role=v.role)
            elif action == "verify":
                need(v, "case.verify")
                case_ops.verify(conn, c.id, actor=v.name, role=v.role, note=text_of(form, "note"))
            elif action == "reject":
                need(v, "case.verify")
                case_ops.reject(
                    conn, c.id, actor=v.name, role=v.role, reason=text_of(form, "reason")
                )
            elif action == "close":
                need(v, "case.close")
                case_ops.close(conn, c.id, actor=v.name, role=v.role)
            else:
                raise RefusedError(404, N_("no such action"))
        lang = request.query_params.get("lang")
        return back(f"/case/{c.id}" + (f"?lang={quote(lang)}" if lang else ""))

    return [
        Route("/cases", guard(safe(case_list))),
        Route("/case/{case_id}", guard(safe(case_page))),
        Route("/case/{case_id}/{action}", guard(safe(case_action)), methods=["POST"]),
    ]
