"""The public, read-only page (``/public``, no sign-in): the notices issued in the last
:data:`PUBLIC_DAYS` days with their rectification status, the spot checks' draws and results, and
the sections other features add (:data:`PUBLIC_SECTIONS`). It publishes no personal data: no user
name, inspector, responsible person, phone, e-mail, token or session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final

from markupsafe import Markup
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from central.accounts import spotcheck
from central.i18n import Translator
from central.loop import cases, notices
from central.report.kinds import kind_label
from central.web.page_kit import PageKit

PUBLIC_SECTIONS: list[Callable[[Engine, Translator], Markup]] = []
"""Other features add sections to the public page here (e.g. issued notices): each returns
escaped HTML and must publish no personal data."""


PUBLIC_DAYS: Final = 90
"""The public page lists the notices issued in the last this many days."""


@dataclass(frozen=True)
class PublicNotice:
    """An issued notice as the public page shows it: no person, only the clinic and the facts."""

    number: str
    clinic: str
    day: date
    problems: str
    deadline: date
    status: str
    done: str
    """Problems rectified (verified or closed) of all, e.g. ``2/3``."""


def routes(kit: PageKit) -> list[Route]:
    """The routes of this module."""
    engine, t = kit.engine, kit.t
    page, outcome_label, rect_label = kit.page, kit.outcome_label, kit.rect_label

    def public_notices(conn: Connection) -> list[PublicNotice]:
        since = time.time() - PUBLIC_DAYS * 86400
        out = []
        for n in notices.issued_since(conn, since, limit=200):
            states = [c.state for c in cases.list_cases(conn, notice_id=n.id)]
            done = sum(1 for st in states if st in ("verified", "closed"))
            reported = sum(1 for st in states if st == "reported")
            if states and done == len(states):
                status = t.gettext("rectified")
            elif reported:
                status = t.gettext("rectification reported, being verified")
            else:
                status = t.gettext("awaiting rectification")
            out.append(
                PublicNotice(
                    number=n.number,
                    clinic=n.clinic_name,
                    day=n.day,
                    problems=", ".join(kind_label(k, t) for k in n.kinds),
                    deadline=n.deadline,
                    status=status,
                    done=f"{done}/{len(states)}",
                )
            )
        return out

    async def public_page(request: Request) -> Response:
        def build() -> Response:
            with engine.connect() as conn:
                found = spotcheck.listing(conn)
                issued = public_notices(conn)
            sections = [fn(engine, t) for fn in PUBLIC_SECTIONS]
            return page(
                "public.html",
                checks=found,
                notices=issued,
                outcome_label=outcome_label,
                rect_label=rect_label,
                extra_sections=sections,
            )

        return await run_in_threadpool(build)

    return [
        Route("/public", public_page),
    ]
