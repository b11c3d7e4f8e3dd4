"""The clinic registry on the dashboard: ``/registry`` (the viewer's clinics, and desks whose clinic
is not registered), ``/registry.csv`` (export; POST: import a CSV) and ``/registry/<site>`` (edit
a clinic, its responsible parties and recipients), the last two for ``registry.edit``. Permission
and scope are checked on the server (central/web/loop_kit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.from_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from central.i18n import N_
from central.loop.registry_edits import import_csv, save_clinic
from central.registry.clinics import (
    PARTIES,
    STATUSES,
    RegistryError,
    all_clinics,
    check_clinic,
    check_responsible,
    get,
    known_sites,
)
from central.registry.csvfile import export_text, parse_recipients, recipients_text
from central.store import reader
from central.web.identity import viewer
from central.web.loop_kit import (
    Handler,
    LoopPages,
    RefusedError,
    back,
    form_of,
    in_scope,
    need,
    posted,
    text_of,
)


def routes(pages: LoopPages, guard: Callable[[Handler], Any]) -> list[Route]:
    """The routes of this module; ``guard`` is the dashboard's wrapper (token, thread pool,
    errors)."""
    engine = pages.engine
    render, safe = pages.render, pages.safe

    def registry_page(request: Request) -> Response:
        v, t = viewer(request), pages.t(request)
        need(v, "view")
        with engine.connect() as conn:
            cl = all_clinics(conn, None if v.sites is None else sorted(v.sites))
            known = known_sites(conn)
        unknown = sorted({d.site for d in reader.desks(engine)
                          if d.site not in known and v.sees(d.site)})  # fmt: skip
        return render(request, "loop/registry.html", t, clinics=cl, unknown=unknown,
                      may_edit=v.may("registry.edit"))  # fmt: skip

    def registry_csv(request: Request) -> Response:
        v = viewer(request)
        need(v, "registry.edit")
        if request.method == "POST":
            form = posted(request)
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
        need(v, "registry.edit")
        site = request.path_params["site"]
        in_scope(v, site)
        error = ""
        with engine.connect() as conn:
            clinic = get(conn, site)
        if request.method == "POST":
            form = form_of(request)
            try:
                parties = []
                for p in PARTIES:
                    vals = {f: text_of(form, f"{p}_{f}") for f in
                            ("person", "phone", "email", "webhook", "username")}  # fmt: skip
                    if any(x.strip() for x in vals.values()):
                        parties.append(check_responsible(p, **vals))
                new = check_clinic(
                    site=site, name=text_of(form, "name"), address=text_of(form, "address"),
                    sub_district=text_of(form, "sub_district"), community=text_of(form, "community"),
                    status=text_of(form, "status"), parties=parties,
                    recipients=parse_recipients(text_of(form, "recipients")),
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
        Route("/registry", guard(safe(registry_page))),
        Route("/registry.csv", guard(safe(registry_csv)), methods=["GET", "POST"]),
        Route("/registry/{site}", guard(safe(clinic_edit)), methods=["GET", "POST"]),
    ]
