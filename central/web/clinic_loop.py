"""A clinic's loop: ``/clinic/<site>/loop`` (its escalation standing, notices, cases, closure
orders and their breaches, its audit trail), ``/clinic/<site>/closure`` (POST: order it to close
for rectification) and ``/closure/<id>/lift`` (POST: lift an order), both for
``escalation.manage``. Permission and scope are checked on the server (central/web/loop_kit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from central.audit.trail import entries
from central.i18n import N_
from central.loop import cases as case_ops
from central.loop import escalation, notices
from central.registry.clinics import get
from central.report.days import today
from central.web.identity import viewer
from central.web.loop_kit import (
    Handler,
    LoopPages,
    RefusedError,
    back,
    day_of,
    form_of,
    in_scope,
    need,
    number_of,
    text_of,
)


def routes(pages: LoopPages, guard: Callable[[Handler], Any]) -> list[Route]:
    """The routes of this module; ``guard`` is the dashboard's wrapper (token, thread pool,
    errors)."""
    engine, tz, settings = pages.engine, pages.tz, pages.settings
    render, safe = pages.render, pages.safe

    def clinic_loop(request: Request) -> Response:
        v, t = viewer(request), pages.t(request)
        need(v, "view")
        site = request.path_params["site"]
        in_scope(v, site)
        now_day = today(tz)
        with engine.connect() as conn:
            clinic = get(conn, site)
            st = escalation.standing_of(conn, site, now_day, settings)
            ns = notices.notices_of_site(conn, site)
            cs = case_ops.list_cases(conn, sites=[site])
            orders = escalation.closure_orders_of(conn, [site])
            breaches = escalation.closure_breaches(
                conn, now_day - timedelta(days=30), now_day, [site]
            )
            trail = entries(conn, sites=[site], limit=100)
        return render(request, "loop/clinic.html", t, site=site, clinic=clinic, standing=st,
                      notices=ns, cases=cs, orders=orders, breaches=breaches, today=now_day,
                      trail=trail, page_kind="clinic",
                      settings=settings, may_order=v.may("escalation.manage"))  # fmt: skip

    def closure_order(request: Request) -> Response:
        v = viewer(request)
        need(v, "escalation.manage")
        site = request.path_params["site"]
        in_scope(v, site)
        form = form_of(request)
        starts = day_of(text_of(form, "starts"), tz, "starts")
        until = day_of(text_of(form, "until"), tz, "until") if text_of(form, "until") else None
        with engine.begin() as conn:
            escalation.order_closure(conn, site, starts, text_of(form, "reason"), actor=v.name,
                                     role=v.role, until=until)  # fmt: skip
        return back(f"/clinic/{quote(site)}/loop")

    def closure_lift(request: Request) -> Response:
        v = viewer(request)
        need(v, "escalation.manage")
        order_id = number_of(request.path_params["order_id"], "order")
        form = form_of(request)
        with engine.begin() as conn:
            found = [o for o in escalation.closure_orders_of(conn) if o.id == order_id]
            if not found:
                raise RefusedError(404, N_("no such closure order"))
            in_scope(v, found[0].site)
            escalation.lift_closure(conn, order_id, day_of(text_of(form, "day"), tz, "day"),
                                    actor=v.name, role=v.role)  # fmt: skip
        return back(f"/clinic/{quote(found[0].site)}/loop")

    return [
        Route("/clinic/{site}/loop", guard(safe(clinic_loop))),
        Route("/clinic/{site}/closure", guard(safe(closure_order)), methods=["POST"]),
        Route("/closure/{order_id}/lift", guard(safe(closure_lift)), methods=["POST"]),
    ]
