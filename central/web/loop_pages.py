"""The supervisors' loop on the dashboard: the day's drafts and issued notices (``/loop``), one
notice (``/notice/<number>``, ``.txt``), cases (``/cases``, ``/case/<id>``), a clinic's escalation,
notices, cases and closure orders (``/clinic/<site>/loop``), and the registry (``/registry``,
``/registry/<site>``, ``/registry.csv``).

Every route checks the viewer's permission (central/accounts/roles.py) and scope on the server:
403 without the permission, 404 for a clinic out of scope. Every form posts back with
``csrf_input``; a bad input answers 400 with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import anyio.from_thread
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from central.accounts.roles import Permission, Viewer
from central.audit.trail import entries
from central.config import ConfigError
from central.i18n import N_, RefusalError, Translator, check_locale, translator
from central.loop import cases as case_ops
from central.loop import escalation, notices
from central.loop.registry_edits import import_csv, save_clinic
from central.loop.render import duration_words, notice_text, view
from central.loop.settings import LoopSettings, settings_from_env
from central.registry.clinics import (
    PARTIES,
    PARTY_LABELS,
    STATUS_LABELS,
    STATUSES,
    RegistryError,
    all_clinics,
    check_clinic,
    check_responsible,
    get,
    known_sites,
)
from central.registry.csvfile import (
    ImportRefusedError,
    export_text,
    parse_recipients,
    recipients_text,
)
from central.report.days import parse_date, today
from central.report.kinds import kind_label
from central.report.render import templates
from central.store import reader
from central.store.records import NAME
from central.web.access import ACTION_LABELS
from central.web.guard import CSRF_INPUT
from central.web.identity import viewer

Handler = Callable[[Request], Response]


class RefusedError(Exception):
    """An answer other than the page: 403, 404 or 400 with a reason: an English message id
    (marked ``N_``) and its named values, translated when answered (:meth:`text`)."""

    def __init__(self, status: int, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.status = status
        self.message = message
        self.values = values

    def text(self, t: Translator) -> str:
        said = t.gettext(self.message)
        return said % self.values if self.values else said


CHANGED_MEANWHILE = N_(
    "changed meanwhile by someone else (a notice issued, an order made): reload the page"
)


@dataclass(frozen=True)
class LoopPages:
    """What the loop's pages need: the database, the district's zone, language and settings."""

    engine: Engine
    tz: ZoneInfo
    language: str = "zh_CN"
    settings: LoopSettings = field(default_factory=settings_from_env)

    def t(self, request: Request) -> Translator:
        """The installation's language, or ``?lang=`` (zh_CN, en) for one page."""
        lang = request.query_params.get("lang")
        try:
            return translator(check_locale(lang) if lang else self.language)
        except ValueError:
            return translator(self.language)


def _need(v: Viewer, permission: Permission) -> None:
    if not v.may(permission):
        raise RefusedError(403, N_("not allowed: %(permission)s"), permission=permission)


def _sites(v: Viewer) -> list[str] | None:
    """The viewer's clinics for a reading (``None``: every clinic)."""
    return None if v.sites is None else sorted(v.sites)


def _scope(v: Viewer, site: str) -> None:
    if not NAME.match(site) or not v.sees(site):
        raise RefusedError(404, N_("no such clinic"))


def _form(request: Request) -> dict[str, Any]:
    """The posted form (read from the worker thread the page runs in)."""
    form = _posted(request)
    out: dict[str, Any] = {}
    for k, v in form.multi_items():
        if k in out:
            prev = out[k]
            out[k] = [*prev, v] if isinstance(prev, list) else [prev, v]
        else:
            out[k] = v
    return out


def _posted(request: Request) -> FormData:
    async def read() -> FormData:
        return await request.form()

    return anyio.from_thread.run(read)


def _text(form: Mapping[str, Any], name: str) -> str:
    v = form.get(name, "")
    return v if isinstance(v, str) else ""


def _list(form: Mapping[str, Any], name: str) -> list[str]:
    v = form.get(name)
    if v is None:
        return []
    return [x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str)]


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RefusedError(
            400, N_("%(name)s: %(text)s is not a number"), name=name, text=repr(text[:20])
        ) from None


def _day(text: str, tz: ZoneInfo, name: str = "date") -> date:
    try:
        return parse_date(text or "today", tz)
    except ConfigError as exc:
        raise RefusedError(400, N_("%(name)s: %(error)s"), name=name, error=str(exc)) from None


def routes(pages: LoopPages, guard: Callable[[Handler], Any]) -> list[Route]:
    """The loop's routes; ``guard`` is the dashboard's wrapper (token, thread pool, errors)."""
    engine, tz, settings = pages.engine, pages.tz, pages.settings

    def render(request: Request, name: str, t: Translator, **ctx: object) -> HTMLResponse:
        v = viewer(request)
        html = (
            templates(t)
            .get_template(name)
            .render(
                base="",
                standalone=False,
                tz_name=tz.key,
                token_q="",
                viewer=v,
                lang_q=("?lang=" + t.locale) if request.query_params.get("lang") else "",
                kind_label=lambda k: kind_label(k, t),
                action_label=lambda a: t.gettext(ACTION_LABELS[a]) if a in ACTION_LABELS else a,
                state_label=lambda s: t.gettext(case_ops.STATE_LABELS.get(s) or s),
                status_label=lambda s: t.gettext(STATUS_LABELS.get(s) or s),
                party_label=lambda p: t.gettext(PARTY_LABELS.get(p) or p),
                when=lambda ts: (
                    "" if ts is None else t.datetime(datetime.fromtimestamp(ts, tz), "short")
                ),
                day_text=lambda d: t.date(d, "medium"),
                duration=lambda s: duration_words(t, s),
                quote=quote,
                csrf_input=CSRF_INPUT,
                **ctx,
            )
        )
        return HTMLResponse(html)

    def safe(fn: Handler) -> Handler:
        def run(request: Request) -> Response:
            try:
                return fn(request)
            except RefusedError as exc:
                return PlainTextResponse(exc.text(pages.t(request)) + "\n", status_code=exc.status)
            except RefusalError as exc:  # the loop's own refusals, in the page's language
                return PlainTextResponse(exc.text(pages.t(request)) + "\n", status_code=400)
            except RegistryError as exc:
                return PlainTextResponse(exc.text(pages.t(request)) + "\n", status_code=400)
            except ImportRefusedError as exc:
                return PlainTextResponse(f"{exc}\n", status_code=400)
            except IntegrityError:
                return PlainTextResponse(
                    pages.t(request).gettext(CHANGED_MEANWHILE) + "\n", status_code=409
                )

        return run

    def back(url: str) -> Response:
        return RedirectResponse(url, status_code=303)

    # -- the day: drafts, issued notices, overdue cases, escalation, breaches --------------------
    def loop_day(request: Request) -> Response:
        v, t = viewer(request), pages.t(request)
        _need(v, "view")
        day = _day(request.query_params.get("date", ""), tz)
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
        _need(v, "notice.issue")
        form = _form(request)
        day = _day(_text(form, "date"), tz)
        notices.draft_day(engine, day, tz, settings, actor=v.name, role=v.role)
        return back(f"/loop?date={day}")

    def loop_issue(request: Request) -> Response:
        v = viewer(request)
        _need(v, "notice.issue")
        form = _form(request)
        day = _day(_text(form, "date"), tz)
        chosen = _list(form, "site")
        if not chosen:
            raise RefusedError(400, N_("site: choose the clinics whose notices to issue"))
        for s in chosen:
            _scope(v, s)
        with engine.begin() as conn:
            notices.issue(conn, day, settings, actor=v.name, role=v.role, sites=chosen)
        return back(f"/loop?date={day}")

    def loop_drop(request: Request) -> Response:
        v = viewer(request)
        _need(v, "notice.drop_problem")
        form = _form(request)
        draft_id = _int(_text(form, "draft"), "draft")
        with engine.begin() as conn:
            d = notices.draft(conn, draft_id)
            if d is None:
                raise RefusedError(404, N_("no such draft"))
            _scope(v, d.site)
            notices.drop_problem(conn, draft_id, _text(form, "key"), _text(form, "reason"),
                                 actor=v.name, role=v.role)  # fmt: skip
        return back(f"/loop?date={d.day}#draft-{draft_id}")

    # -- one notice ------------------------------------------------------------------------------
    def _notice(request: Request) -> notices.IssuedNotice:
        v = viewer(request)
        _need(v, "view")
        number = request.path_params["number"]
        with engine.connect() as conn:
            n = notices.notice(conn, number)
        if n is None or not v.sees(n.site):
            raise RefusedError(404, N_("no such notice"))
        return n

    def notice_page(request: Request) -> Response:
        n, t = _notice(request), pages.t(request)
        sites = _sites(viewer(request))
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

    # -- cases -----------------------------------------------------------------------------------
    def case_list(request: Request) -> Response:
        v, t = viewer(request), pages.t(request)
        _need(v, "view")
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
        _need(v, "view")
        case_id = _int(request.path_params["case_id"], "case")
        with engine.connect() as conn:
            c = case_ops.get(conn, case_id)
        if c is None or not v.sees(c.site):
            raise RefusedError(404, N_("no such case"))
        return c

    def case_page(request: Request) -> Response:
        c, t, v = _case(request), pages.t(request), viewer(request)
        with engine.connect() as conn:
            later = case_ops.later_facts(conn, c, today(tz))
            trail = entries(conn, sites=_sites(v), target_kind="case", target_id=str(c.id),
                            limit=50)  # fmt: skip
        return render(request, "loop/case.html", t, case=c, later=later, trail=trail,
                      page_kind="case", today=today(tz), may_report=v.may("case.report"),
                      may_verify=v.may("case.verify"), may_close=v.may("case.close"))  # fmt: skip

    def case_action(request: Request) -> Response:
        c, v = _case(request), viewer(request)
        action = request.path_params["action"]
        form = _form(request)
        with engine.begin() as conn:
            if action == "report":
                _need(v, "case.report")
                case_ops.report(conn, c.id, _text(form, "text"), actor=v.name, role=v.role)
            elif action == "verify":
                _need(v, "case.verify")
                case_ops.verify(conn, c.id, actor=v.name, role=v.role, note=_text(form, "note"))
            elif action == "reject":
                _need(v, "case.verify")
                case_ops.reject(conn, c.id, actor=v.name, role=v.role, reason=_text(form, "reason"))
            elif action == "close":
                _need(v, "case.close")
                case_ops.close(conn, c.id, actor=v.name, role=v.role)
            else:
                raise RefusedError(404, N_("no such action"))
        lang = request.query_params.get("lang")
        return back(f"/case/{c.id}" + (f"?lang={quote(lang)}" if lang else ""))

    # -- a clinic's loop: escalation, notices, cases, closure orders -----------------------------
    def clinic_loop(request: Request) -> Response:
        v, t = viewer(request), pages.t(request)
        _need(v, "view")
        site = request.path_params["site"]
        _scope(v, site)
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
        _need(v, "escalation.manage")
        site = request.path_params["site"]
        _scope(v, site)
        form = _form(request)
        starts = _day(_text(form, "starts"), tz, "starts")
        until = _day(_text(form, "until"), tz, "until") if _text(form, "until") else None
        with engine.begin() as conn:
            escalation.order_closure(conn, site, starts, _text(form, "reason"), actor=v.name,
                                     role=v.role, until=until)  # fmt: skip
        return back(f"/clinic/{quote(site)}/loop")

    def closure_lift(request: Request) -> Response:
        v = viewer(request)
        _need(v, "escalation.manage")
        order_id = _int(request.path_params["order_id"], "order")
        form = _form(request)
        with engine.begin() as conn:
            found = [o for o in escalation.closure_orders_of(conn) if o.id == order_id]
            if not found:
                raise RefusedError(404, N_("no such closure order"))
            _scope(v, found[0].site)
            escalation.lift_closure(conn, order_id, _day(_text(form, "day"), tz, "day"),
                                    actor=v.name, role=v.role)  # fmt: skip
        return back(f"/clinic/{quote(found[0].site)}/loop")

    # -- the registry ----------------------------------------------------------------------------
    def registry_page(request: Request) -> Response:
        v, t = viewer(request), pages.t(request)
        _need(v, "view")
        with engine.connect() as conn:
            cl = all_clinics(conn, None if v.sites is None else sorted(v.sites))
            known = known_sites(conn)
        unknown = sorted({d.site for d in reader.desks(engine)
                          if d.site not in known and v.sees(d.site)})  # fmt: skip
        return render(request, "loop/registry.html", t, clinics=cl, unknown=unknown,
                      may_edit=v.may("registry.edit"))  # fmt: skip

    def registry_csv(request: Request) -> Response:
        v = viewer(request)
        _need(v, "registry.edit")
        if request.method == "POST":
            form = _posted(request)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise RefusedError(400, N_("file: choose the CSV file to import"))
            data = anyio.from_thread.run(upload.read)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise RefusedError(400, N_("file: not UTF-8 (save the CSV as UTF-8)")) from None
            with engine.begin() as conn:
                import_csv(conn, text, actor=v.name, role=v.role)
            return back("/registry")
        with engine.connect() as conn:
            body = export_text(conn)
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="registry.csv"'})  # fmt: skip

    def clinic_edit(request: Request) -> Response:
        v, t = viewer(request), pages.t(request)
        _need(v, "registry.edit")
        site = request.path_params["site"]
        _scope(v, site)
        error = ""
        with engine.connect() as conn:
            clinic = get(conn, site)
        if request.method == "POST":
            form = _form(request)
            try:
                parties = []
                for p in PARTIES:
                    vals = {f: _text(form, f"{p}_{f}") for f in
                            ("person", "phone", "email", "webhook", "username")}  # fmt: skip
                    if any(x.strip() for x in vals.values()):
                        parties.append(check_responsible(p, **vals))
                new = check_clinic(
                    site=site, name=_text(form, "name"), address=_text(form, "address"),
                    sub_district=_text(form, "sub_district"), community=_text(form, "community"),
                    status=_text(form, "status"), parties=parties,
                    recipients=parse_recipients(_text(form, "recipients")),
                )  # fmt: skip
            except RegistryError as exc:
                error = exc.text(t)
            else:
                with engine.begin() as conn:
                    save_clinic(conn, new, actor=v.name, role=v.role)
                return back("/registry")
        return render(request, "loop/clinic_edit.html", t, site=site, clinic=clinic, error=error,
                      parties=PARTIES, statuses=STATUSES,
                      recipients=recipients_text(clinic.recipients) if clinic else "")  # fmt: skip

    return [
        Route("/loop", guard(safe(loop_day))),
        Route("/loop/draft", guard(safe(loop_draft)), methods=["POST"]),
        Route("/loop/issue", guard(safe(loop_issue)), methods=["POST"]),
        Route("/loop/drop", guard(safe(loop_drop)), methods=["POST"]),
        Route("/notice/{number}.txt", guard(safe(notice_txt))),
        Route("/notice/{number}", guard(safe(notice_page))),
        Route("/cases", guard(safe(case_list))),
        Route("/case/{case_id}", guard(safe(case_page))),
        Route("/case/{case_id}/{action}", guard(safe(case_action)), methods=["POST"]),
        Route("/clinic/{site}/loop", guard(safe(clinic_loop))),
        Route("/clinic/{site}/closure", guard(safe(closure_order)), methods=["POST"]),
        Route("/closure/{order_id}/lift", guard(safe(closure_lift)), methods=["POST"]),
        Route("/registry", guard(safe(registry_page))),
        Route("/registry.csv", guard(safe(registry_csv)), methods=["GET", "POST"]),
        Route("/registry/{site}", guard(safe(clinic_edit)), methods=["GET", "POST"]),
    ]
