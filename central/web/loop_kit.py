"""What the supervisors' loop pages share (central/web/notice_pages.py, case_pages.py,
clinic_loop.py, registry_pages.py): :class:`LoopPages` (the database, the district's zone, language
and settings; rendering a page in the reader's language; answering refusals), the permission and
scope checks every route makes on the server (403 without the permission, 404 for a clinic out of
scope) and the reading of posted forms (a bad input answers 400 with the reason).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
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

from central.accounts.roles import Permission, Viewer
from central.config import ConfigError
from central.i18n import N_, RefusalError, Translator, check_locale, translator
from central.loop import cases as case_ops
from central.loop.render import duration_words
from central.loop.settings import LoopSettings, settings_from_env
from central.registry.clinics import PARTY_LABELS, STATUS_LABELS, RegistryError
from central.registry.csvfile import ImportRefusedError
from central.report.days import parse_date
from central.report.kinds import kind_label
from central.report.render import templates
from central.store.records import NAME
from central.web.guard import CSRF_INPUT
from central.web.identity import viewer
from central.web.labels import ACTION_LABELS

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

    def render(self, request: Request, name: str, t: Translator, **ctx: object) -> HTMLResponse:
        """The template ``name`` in ``t``'s language, with the loop's labels and the viewer."""
        v = viewer(request)
        html = (
            templates(t)
            .get_template(name)
            .render(
                base="",
                standalone=False,
                tz_name=self.tz.key,
                token_q="",
                viewer=v,
                lang_q=("?lang=" + t.locale) if request.query_params.get("lang") else "",
                kind_label=lambda k: kind_label(k, t),
                action_label=lambda a: t.gettext(ACTION_LABELS[a]) if a in ACTION_LABELS else a,
                state_label=lambda s: t.gettext(case_ops.STATE_LABELS.get(s) or s),
                status_label=lambda s: t.gettext(STATUS_LABELS.get(s) or s),
                party_label=lambda p: t.gettext(PARTY_LABELS.get(p) or p),
                when=lambda ts: (
                    "" if ts is None else t.datetime(datetime.fromtimestamp(ts, self.tz), "short")
                ),
                day_text=lambda d: t.date(d, "medium"),
                duration=lambda s: duration_words(t, s),
                quote=quote,
                csrf_input=CSRF_INPUT,
                **ctx,
            )
        )
        return HTMLResponse(html)

    def safe(self, fn: Handler) -> Handler:
        """``fn`` answering its refusals as plain text in the page's language (400, 403, 404; 409
        when the database refused a change made meanwhile)."""

        def run(request: Request) -> Response:
            try:
                return fn(request)
            except RefusedError as exc:
                return PlainTextResponse(exc.text(self.t(request)) + "\n", status_code=exc.status)
            except RefusalError as exc:  # the loop's own refusals, in the page's language
                return PlainTextResponse(exc.text(self.t(request)) + "\n", status_code=400)
            except RegistryError as exc:
                return PlainTextResponse(exc.text(self.t(request)) + "\n", status_code=400)
            except ImportRefusedError as exc:
                return PlainTextResponse(f"{exc}\n", status_code=400)
            except IntegrityError:
                return PlainTextResponse(
                    self.t(request).gettext(CHANGED_MEANWHILE) + "\n", status_code=409
                )

        return run


def need(v: Viewer, permission: Permission) -> None:
    if not v.may(permission):
        raise RefusedError(403, N_("not allowed: %(permission)s"), permission=permission)


def viewer_sites(v: Viewer) -> list[str] | None:
    """The viewer's clinics for a reading (``None``: every clinic)."""
    return None if v.sites is None else sorted(v.sites)


def in_scope(v: Viewer, site: str) -> None:
    if not NAME.match(site) or not v.sees(site):
        raise RefusedError(404, N_("no such clinic"))


def form_of(request: Request) -> dict[str, Any]:
    """The posted form (read from the worker thread the page runs in)."""
    form = posted(request)
    out: dict[str, Any] = {}
    for k, v in form.multi_items():
        if k in out:
            prev = out[k]
            out[k] = [*prev, v] if isinstance(prev, list) else [prev, v]
        else:
            out[k] = v
    return out


def posted(request: Request) -> FormData:
    async def read() -> FormData:
        return await request.form()

    return anyio.from_thread.run(read)


def text_of(form: Mapping[str, Any], name: str) -> str:
    v = form.get(name, "")
    return v if isinstance(v, str) else ""


def list_of(form: Mapping[str, Any], name: str) -> list[str]:
    v = form.get(name)
    if v is None:
        return []
    return [x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str)]


def number_of(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RefusedError(
            400, N_("%(name)s: %(text)s is not a number"), name=name, text=repr(text[:20])
        ) from None


def day_of(text: str, tz: ZoneInfo, name: str = "date") -> date:
    try:
        return parse_date(text or "today", tz)
    except ConfigError as exc:
        raise RefusedError(400, N_("%(name)s: %(error)s"), name=name, error=str(exc)) from None


def back(url: str) -> Response:
    """See ``url`` (after a POST)."""
    return RedirectResponse(url, status_code=303)
