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

NOT_ALLOWED = N_("not allowed: %(permission)s")
BAD_STATE = N_("state: %(state)s is not one of %(states)s")
NO_SUCH_DELIVERY = N_("no such delivery")
NOT_DEAD = N_("delivery %(pk)s is not a dead letter: only those are retried")


def _refused(t: Translator, message: str, status: int, **values: object) -> Response:
    """A refusal in the reader's language (plain text, as the other pages' refusals)."""
    return PlainTextResponse(t.gettext(message) % values + "\n", status_code=status)


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
        t = t_of(request)
        if not v.may("delivery.manage"):
            return _refused(t, NOT_ALLOWED, 403, permission="delivery.manage")
        state = request.query_params.get("state") or ""
        if state and state not in queue.STATES:
            return _refused(t, BAD_STATE, 400, state=state, states=", ".join(queue.STATES))
        with engine.connect() as conn:
            counts = queue.counts(conn, v.sites)
            rows = queue.rows(conn, sites=v.sites, states=[state] if state else [], limit=200)
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
        t = t_of(request)
        if not v.may("delivery.manage"):
            return _refused(t, NOT_ALLOWED, 403, permission="delivery.manage")
        try:
            pk = int(request.path_params["pk"])
        except ValueError:
            return _refused(t, NO_SUCH_DELIVERY, 404)

        def run() -> Response:
            try:
                with engine.begin() as conn:
                    queue.retry_dead(conn, pk, actor=v.name, role=v.role, sites=v.sites)
            except queue.QueueError as exc:
                if "no delivery" in str(exc):
                    return _refused(t, NO_SUCH_DELIVERY, 404)
                return _refused(t, NOT_DEAD, 409, pk=pk)
            return RedirectResponse(f"/deliveries?state=dead&retried={pk}", status_code=303)

        return await run_in_threadpool(run)

    return [
        Route("/deliveries", guarded(page)),
        Route("/deliveries/{pk}/retry", retry, methods=["POST"]),
    ]
