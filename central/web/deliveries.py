"""The delivery-status page: ``/deliveries`` (counts per state, the newest deliveries with their
destination redacted, attempts, next try and last error; ``?state=dead`` filters) and
``POST /deliveries/<pk>/retry`` (an officer gives a dead letter its tries again, audited as
``delivery.retried``).

Both need the ``delivery.manage`` permission (403 otherwise); a viewer scoped to some clinics sees
and retries only those clinics' own deliveries (central/delivery/queue.py ``rows``), and a
delivery out of scope answers 404. The form carries ``csrf_input`` (the guard checks it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from central.delivery import queue
from central.i18n import N_, Translator, check_locale, translator
from central.report.render import templates
from central.web.identity import viewer

Endpoint = Callable[[Request], Awaitable[Response]]

STATE_LABELS: dict[str, str] = {
    "queued": N_("Queued"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "retry": N_("To retry"),
    "dead": N_("Failed (dead letter)"),
}
KIND_LABELS: dict[str, str] = {
    "summary": N_("Group summary"),
    "notice": N_("Clinic notice"),
    "closure": N_("Closure-order alert"),
    "test": N_("Test message"),
}


def routes(
    engine: Engine,
    tz: ZoneInfo,
    language: str,
    guarded: Callable[[Callable[[Request], Response]], Endpoint],
) -> list[Route]:
    """The page's routes; ``guarded`` is the server's wrapper (view permission, thread pool)."""

    def t_of(request: Request) -> Translator:
        lang = request.query_params.get("lang")
        try:
            return translator(check_locale(lang) if lang else language)
        except ValueError:
            return translator(language)

    def page(request: Request) -> Response:
        v = viewer(request)
        if not v.may("delivery.manage"):
            return PlainTextResponse("not allowed: delivery.manage\n", status_code=403)
        state = request.query_params.get("state") or ""
        if state and state not in queue.STATES:
            return PlainTextResponse(f"state: one of {', '.join(queue.STATES)}\n", status_code=400)
        with engine.connect() as conn:
            counts = queue.counts(conn, v.sites)
            rows = queue.rows(conn, sites=v.sites, states=[state] if state else [], limit=200)
        t = t_of(request)
        done = request.query_params.get("retried", "")

        def when(ts: float | None) -> str:
            if ts is None:
                return ""
            return t.datetime(datetime.fromtimestamp(ts, tz), "short")

        html = (
            templates(t)
            .get_template("deliveries.html")
            .render(
                base="",
                standalone=False,
                tz_name=tz.key,
                token_q="",
                viewer=v,
                counts=counts,
                rows=rows,
                state=state,
                states=queue.STATES,
                retried=done,
                when=when,
                state_label=lambda s: t.gettext(STATE_LABELS.get(s) or s),
                kind_label=lambda k: t.gettext(KIND_LABELS.get(k) or k),
            )
        )
        return HTMLResponse(html)

    async def retry(request: Request) -> Response:
        v = viewer(request)
        if not v.may("delivery.manage"):
            return PlainTextResponse("not allowed: delivery.manage\n", status_code=403)
        try:
            pk = int(request.path_params["pk"])
        except ValueError:
            return PlainTextResponse("no such delivery\n", status_code=404)

        def run() -> Response:
            try:
                with engine.begin() as conn:
                    queue.retry_dead(conn, pk, actor=v.name, role=v.role, sites=v.sites)
            except queue.QueueError as exc:
                status = 404 if "no delivery" in str(exc) else 409
                return PlainTextResponse(f"{exc}\n", status_code=status)
            return RedirectResponse(f"/deliveries?state=dead&retried={pk}", status_code=303)

        return await run_in_threadpool(run)

    return [
        Route("/deliveries", guarded(page)),
        Route("/deliveries/{pk}/retry", retry, methods=["POST"]),
    ]
