"""What the pages about people and their acts share (central/web/signin.py, user_admin.py,
audit_pages.py, spotchecks.py, public.py): the database, the time zone, the installation
language's templates and translator, how the dashboard is exposed; rendering a page with the
times in the district's zone; reading a posted form; and the labels those pages show for roles,
audit actions and spot-check outcomes (central/web/labels.py), in the installation's language.

central/web/server.py builds one :class:`PageKit` and mounts each module's ``routes(kit)`` behind
the guard (central/web/guard.py), which has already identified the viewer and checked CSRF on POST.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse

from central.accounts import users as accounts
from central.accounts.roles import Viewer
from central.i18n import Translator
from central.web.guard import WebSecurity
from central.web.labels import ACTION_LABELS, OUTCOME_LABELS, PARTY_LABELS, RECT_LABELS, ROLE_LABELS


@dataclass(frozen=True)
class PageKit:
    """What the pages need: the database, the time zone, the language's templates, exposure."""

    engine: Engine
    tz: ZoneInfo
    env: Environment
    t: Translator
    security: WebSecurity

    def when(self, ts: float | None) -> str:
        """A time as the district reads it (short), or nothing."""
        if ts is None:
            return ""
        return self.t.datetime(datetime.fromtimestamp(ts, self.tz), "short")

    def page(self, name: str, status: int = 200, /, **ctx: object) -> HTMLResponse:
        """The template ``name`` rendered with ``ctx``."""
        html = self.env.get_template(name).render(
            base="", standalone=False, tz_name=self.tz.key, when=self.when, **ctx
        )
        return HTMLResponse(html, status_code=status)

    def role_label(self, a: accounts.Account | Viewer) -> str:
        text = self.t.gettext(ROLE_LABELS[a.role])
        if a.party:
            text += " · " + self.t.gettext(PARTY_LABELS[a.party])
        return text

    def action_label(self, action: str) -> str:
        return self.t.gettext(ACTION_LABELS[action]) if action in ACTION_LABELS else action

    @staticmethod
    def detail_text(detail: Mapping[str, object]) -> str:
        return json.dumps(dict(detail), ensure_ascii=False, sort_keys=True)[:300]

    def outcome_label(self, o: str) -> str:
        return self.t.gettext(OUTCOME_LABELS.get(o, o))

    def rect_label(self, r: str) -> str:
        return self.t.gettext(RECT_LABELS.get(r, r))


async def form_of(request: Request) -> dict[str, str]:
    """The posted form (``application/x-www-form-urlencoded``), first value of each field."""
    raw = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in raw.items()}
