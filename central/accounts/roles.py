"""Roles, their permissions and a signed-in person's scope: declared once, checked on the server.

The district's parties (docs/CENTRAL.md, "Who sees what"): a district administrator manages users
and the registry and may do everything; a district officer sees every clinic and runs the loop
(issues notices, verifies cases, escalates); a party member (health bureau, enforcement bureau,
sub-district or community) sees the clinics the registry names them responsible for and verifies
their cases; a clinic user sees only their clinic and reports its rectification; a viewer reads.

:data:`PERMISSIONS` is the one table of who may do what; every route checks a permission with
:meth:`Viewer.may` and filters what it reads with :attr:`Viewer.sites` (``None``: every clinic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Role = Literal["admin", "officer", "party", "clinic", "viewer"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

Party = Literal["health_bureau", "enforcement_bureau", "sub_district", "community"]
PARTIES: Final[tuple[Party, ...]] = get_args(Party)
"""The four parties that answer for each clinic, in the district's order."""

Permission = Literal[
    "view",
    "notice.issue",
    "notice.drop_problem",
    "case.report",
    "case.verify",
    "case.close",
    "escalation.manage",
    "registry.edit",
    "users.manage",
    "spotcheck.draw",
    "spotcheck.record",
    "delivery.manage",
    "audit.read",
]

PERMISSIONS: Final[dict[Permission, frozenset[Role]]] = {
    "view": frozenset(ROLES),
    "notice.issue": frozenset({"admin", "officer"}),
    "notice.drop_problem": frozenset({"admin", "officer"}),
    "case.report": frozenset({"admin", "officer", "clinic"}),
    "case.verify": frozenset({"admin", "officer", "party"}),
    "case.close": frozenset({"admin", "officer"}),
    "escalation.manage": frozenset({"admin", "officer"}),
    "registry.edit": frozenset({"admin"}),
    "users.manage": frozenset({"admin"}),
    "spotcheck.draw": frozenset({"admin", "officer"}),
    "spotcheck.record": frozenset({"admin", "officer", "party"}),
    "delivery.manage": frozenset({"admin", "officer"}),
    "audit.read": frozenset({"admin", "officer", "party", "clinic"}),
}


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a name for the audit trail, a role, and the clinics they may see."""

    name: str
    role: Role
    sites: frozenset[str] | None
    """The clinics (registry ids) in scope; ``None`` for district-wide roles (admin, officer,
    viewer)."""
    party: Party | None = None

    def may(self, permission: Permission) -> bool:
        """Whether the role allows ``permission`` (the scope is checked separately)."""
        return self.role in PERMISSIONS[permission]

    def sees(self, site: str) -> bool:
        """Whether ``site`` is in scope."""
        return self.sites is None or site in self.sites


LOCAL_ADMIN: Final = Viewer(name="local", role="admin", sites=None)
"""Whoever reaches a dashboard that has no accounts configured (bound to localhost only)."""
