"""Who is asking, for a route: the :class:`~central.accounts.roles.Viewer` the sign-in middleware
put on the request, or the local administrator of a dashboard without accounts."""

from __future__ import annotations

from starlette.requests import Request

from central.accounts.roles import LOCAL_ADMIN, Viewer


def viewer(request: Request) -> Viewer:
    """The signed-in viewer (``request.state.viewer``), else :data:`LOCAL_ADMIN`."""
    found = getattr(request.state, "viewer", None)
    return found if isinstance(found, Viewer) else LOCAL_ADMIN
