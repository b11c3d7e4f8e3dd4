"""Who is asking, for a route: the :class:`~central.accounts.roles.Viewer` the guard
(central/web/guard.py) put on the request, or the local administrator of a dashboard without
accounts; and :func:`require`, a route's permission and scope check (403/404 through
:class:`Forbidden`, answered by the app's exception handler)."""

from __future__ import annotations

from starlette.requests import Request

from central.accounts.roles import LOCAL_ADMIN, Permission, Viewer


class Forbidden(Exception):  # noqa: N818 - an answer, not an error
    """The viewer may not do this (``status`` 403), or may not know the thing exists (404)."""

    def __init__(self, status: int = 403) -> None:
        super().__init__(status)
        self.status = status


def viewer(request: Request) -> Viewer:
    """The signed-in viewer (``request.state.viewer``), else :data:`LOCAL_ADMIN`."""
    found = getattr(request.state, "viewer", None)
    return found if isinstance(found, Viewer) else LOCAL_ADMIN


def require(request: Request, permission: Permission, site: str | None = None) -> Viewer:
    """The viewer, if their role allows ``permission`` and ``site`` (if given) is in scope;
    else :class:`Forbidden` (404 for a clinic out of scope: its existence is not revealed)."""
    v = viewer(request)
    if not v.may(permission):
        raise Forbidden(403)
    if site is not None and not v.sees(site):
        raise Forbidden(404)
    return v
