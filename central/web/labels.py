"""The words the dashboard shows for the accounts' and the audit trail's codes: roles, parties,
spot-check outcomes and rectifications, audit actions (marked with ``N_``, translated when shown).
"""

from __future__ import annotations

from typing import Final

from central.i18n import N_

ROLE_LABELS: Final = {
    "admin": N_("district administrator"),
    "officer": N_("district officer"),
    "party": N_("party member"),
    "clinic": N_("clinic user"),
    "viewer": N_("viewer"),
}
PARTY_LABELS: Final = {
    "health_bureau": N_("health bureau"),
    "enforcement_bureau": N_("health-supervision enforcement bureau"),
    "sub_district": N_("sub-district"),
    "community": N_("community"),
}
OUTCOME_LABELS: Final = {
    "pending": N_("not yet inspected"),
    "compliant": N_("compliant"),
    "rectify": N_("rectification ordered"),
    "failed": N_("serious violation"),
}
RECT_LABELS: Final = {
    "none": N_("none needed"),
    "required": N_("required"),
    "rectified": N_("rectified"),
}
ACTION_LABELS: Final = {
    "notice.drafted": N_("notice drafted"),
    "notice.issued": N_("notice issued"),
    "notice.problem_dropped": N_("problem dropped from a notice"),
    "case.reported": N_("rectification reported"),
    "case.verified": N_("rectification verified"),
    "case.closed": N_("case closed"),
    "case.reopened": N_("case reopened"),
    "case.notified": N_("notice delivered to the clinic"),
    "escalation.raised": N_("escalated"),
    "closure.ordered": N_("ordered to close for rectification"),
    "closure.lifted": N_("closure order lifted"),
    "registry.imported": N_("registry imported"),
    "registry.edited": N_("registry edited"),
    "user.added": N_("user added"),
    "user.changed": N_("user changed"),
    "user.removed": N_("user removed"),
    "user.locked": N_("user locked"),
    "user.unlocked": N_("user unlocked"),
    "token.created": N_("API token created"),
    "token.revoked": N_("API token revoked"),
    "spotcheck.drawn": N_("spot check drawn"),
    "spotcheck.result": N_("spot-check result recorded"),
    "delivery.retried": N_("delivery retried"),
}
"""The audit trail's actions as people read them (central/audit/trail.py ACTIONS)."""
