"""The double-random spot checks (central/accounts/spotcheck.py) on the dashboard: ``/spotchecks``
(the draws the viewer's clinics are in; the draw form for ``spotcheck.draw``),
``/spotchecks/draw`` (POST), ``/spotchecks/<id>`` (a draw: its clinics in the viewer's scope,
the facts of their day, whether the draw verifies, its audit entries for ``audit.read``) and
``/spotchecks/<id>/<site>`` (POST: record a clinic's result, ``spotcheck.record`` in scope).
"""

from __future__ import annotations

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from central.accounts import spotcheck
from central.accounts.roles import Viewer
from central.audit import trail
from central.report.days import parse_date, today
from central.web.identity import Forbidden, require
from central.web.page_kit import PageKit, form_of


def routes(kit: PageKit) -> list[Route]:
    """The routes of this module."""
    engine, tz = kit.engine, kit.tz
    page, action_label, detail_text = kit.page, kit.action_label, kit.detail_text
    outcome_label, rect_label = kit.outcome_label, kit.rect_label

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

    return [
        Route("/spotchecks", checks_page),
        Route("/spotchecks/draw", draw, methods=["POST"]),
        Route("/spotchecks/{check_id}", check_page),
        Route("/spotchecks/{check_id}/{site}", record, methods=["POST"]),
    ]
