"""The audit trail on the dashboard (``audit.read``): ``/audit`` (the newest 500 entries) and
``/audit.csv`` (all of them), filtered by ``site``, ``target_kind`` and ``target_id`` and cut down
to the viewer's clinics on the server (a clinic out of scope: 404).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from central.accounts.roles import Viewer
from central.audit import trail
from central.report.safe import csv_text
from central.web.identity import Forbidden, require
from central.web.page_kit import PageKit

AUDIT_CSV_HEADER: Final = ["at", "actor", "role", "action", "target_kind", "target_id", "site",
                           "detail"]  # fmt: skip


def routes(kit: PageKit) -> list[Route]:
    """The routes of this module."""
    engine, tz = kit.engine, kit.tz
    page, action_label, detail_text = kit.page, kit.action_label, kit.detail_text

    def audit_filter(request: Request) -> tuple[Viewer, dict[str, str]]:
        v = require(request, "audit.read")
        q = {
            k: request.query_params[k][:64]
            for k in ("site", "target_kind", "target_id")
            if request.query_params.get(k)
        }
        if "site" in q and not v.sees(q["site"]):
            raise Forbidden(404)
        return v, q

    def audit_entries(v: Viewer, q: Mapping[str, str], limit: int) -> list[trail.Entry]:
        sites = [q["site"]] if "site" in q else (None if v.sites is None else sorted(v.sites))
        with engine.connect() as conn:
            return trail.entries(
                conn,
                sites=sites,
                target_kind=q.get("target_kind"),
                target_id=q.get("target_id"),
                limit=limit,
            )

    async def audit_page(request: Request) -> Response:
        v, q = audit_filter(request)
        found = await run_in_threadpool(audit_entries, v, q, 500)
        query = "?" + urlencode(q) if q else ""
        return page(
            "audit.html",
            audit=found,
            query=query,
            action_label=action_label,
            detail_text=detail_text,
        )

    async def audit_csv(request: Request) -> Response:
        v, q = audit_filter(request)
        found = await run_in_threadpool(audit_entries, v, q, 1_000_000)
        rows = (
            [datetime.fromtimestamp(e.at, tz).isoformat(timespec="seconds"), e.actor, e.role,
             e.action, e.target_kind, e.target_id, e.site or "", detail_text(e.detail)]
            for e in found
        )  # fmt: skip
        return Response(
            csv_text(AUDIT_CSV_HEADER, rows),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="triage-audit.csv"'},
        )

    return [
        Route("/audit", audit_page),
        Route("/audit.csv", audit_csv),
    ]
