"""Clinic records: typed, validated, read and saved (:func:`save` returns what changed: the audited
edits of central/loop/registry_edits.py record it in the same transaction; the registry sits beside
the audit trail, not above it), and the look-ups other parts use: :func:`clinic_names` (pages, notices),
:func:`sites_for` (a party member's scope), :func:`get` / :func:`all_clinics`.

Party names are :data:`PARTIES`, the same words as ``central.accounts.roles.PARTIES`` (accounts sits
above the registry, so the tuple is declared here too; a test checks they agree).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from sqlalchemy import Connection, delete, insert, select, update

from central.i18n import LOCALES, N_, Translator
from central.registry.tables import clinic_parties, clinic_recipients, clinics
from central.store.records import NAME

PartyName = Literal["health_bureau", "enforcement_bureau", "sub_district", "community"]
PARTIES: Final[tuple[PartyName, ...]] = get_args(PartyName)

PARTY_LABELS: Final[dict[str, str]] = {
    "health_bureau": N_("Health bureau"),
    "enforcement_bureau": N_("Health-supervision enforcement bureau"),
    "sub_district": N_("Sub-district"),
    "community": N_("Community"),
}

Status = Literal["open", "closed", "ordered_to_close"]
STATUSES: Final[tuple[Status, ...]] = get_args(Status)
STATUS_LABELS: Final[dict[str, str]] = {
    "open": N_("In business"),
    "closed": N_("Closed down"),
    "ordered_to_close": N_("Ordered to close for rectification"),
}

Channel = Literal["email", "wecom", "dingtalk", "feishu", "webhook"]
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{2,38}$")
_URL = re.compile(r"^https?://[^\s]+$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class RegistryError(ValueError):
    """A registry value that is not acceptable; ``field`` names it (CSV column or form field).
    The reason is a message id (marked ``N_``) with named values: ``message`` is its English
    text, :meth:`text` the field and the reason in the reader's language."""

    def __init__(self, field_name: str, message: str, **values: object) -> None:
        said = message % values if values else message
        super().__init__(f"{field_name}: {said}")
        self.field = field_name
        self.message = said
        self.msgid = message
        self.values = values

    def text(self, t: Translator) -> str:
        said = t.gettext(self.msgid)
        return f"{self.field}: {said % self.values if self.values else said}"


@dataclass(frozen=True)
class Responsible:
    """One party's named responsible person for a clinic."""

    party: PartyName
    person: str
    phone: str = ""
    email: str = ""
    webhook: str = ""
    username: str | None = None


@dataclass(frozen=True)
class Recipient:
    """Who receives the clinic's notices: a channel and its address, in a language ('' = the
    installation's)."""

    channel: Channel
    address: str
    language: str = ""


@dataclass(frozen=True)
class Clinic:
    """One clinic of the registry."""

    site: str
    name: str
    address: str = ""
    sub_district: str = ""
    community: str = ""
    status: Status = "open"
    parties: tuple[Responsible, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    updated_at: float = field(default=0.0, compare=False)

    def party(self, name: str) -> Responsible | None:
        return next((p for p in self.parties if p.party == name), None)


def _text(field_name: str, value: str, limit: int, required: bool = False) -> str:
    v = value.strip()
    if required and not v:
        raise RegistryError(field_name, N_("is required"))
    if len(v) > limit:
        raise RegistryError(field_name, N_("is longer than %(limit)s characters"), limit=limit)
    if any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in v):
        raise RegistryError(field_name, N_("holds a control character"))
    return v


def check_site(value: str, field_name: str = "site") -> str:
    v = value.strip()
    if not NAME.match(v):
        raise RegistryError(
            field_name,
            N_("%(value)s is not a clinic id (1-64 of A-Z a-z 0-9 _ . -, as in the topics)"),
            value=repr(v),
        )
    return v


def check_responsible(
    party: str, person: str, phone: str, email: str, webhook: str, username: str
) -> Responsible:
    """A validated :class:`Responsible`; field names are ``<party>_<field>``."""
    if party not in PARTIES:
        raise RegistryError("party", N_("%(value)s is not one of %(allowed)s"), value=repr(party),
                            allowed=", ".join(PARTIES))  # fmt: skip
    p = f"{party}_"
    person = _text(p + "person", person, 100, required=True)
    phone = _text(p + "phone", phone, 40)
    if phone and not _PHONE.match(phone):
        raise RegistryError(p + "phone", N_("%(value)s is not a phone number"), value=repr(phone))
    email = _text(p + "email", email, 200)
    if email and not _EMAIL.match(email):
        raise RegistryError(
            p + "email", N_("%(value)s is not an e-mail address"), value=repr(email)
        )
    webhook = _text(p + "webhook", webhook, 1000)
    if webhook and not _URL.match(webhook):
        raise RegistryError(p + "webhook", N_("%(value)s is not an http(s) URL"),
                            value=repr(webhook))  # fmt: skip
    user = username.strip()
    if user and not _USERNAME.match(user):
        raise RegistryError(p + "username", N_("%(value)s is not a user name"), value=repr(user))
    return Responsible(party, person, phone, email, webhook, user or None)


def check_recipient(
    channel: str, address: str, language: str = "", field_name: str = "recipients"
) -> Recipient:
    if channel not in CHANNELS:
        raise RegistryError(field_name, N_("channel %(value)s is not one of %(allowed)s"),
                            value=repr(channel), allowed=", ".join(CHANNELS))  # fmt: skip
    address = _text(field_name, address, 1000, required=True)
    if channel == "email" and not _EMAIL.match(address):
        raise RegistryError(
            field_name, N_("%(value)s is not an e-mail address"), value=repr(address)
        )
    if channel != "email" and not _URL.match(address):
        raise RegistryError(field_name, N_("%(value)s is not an http(s) URL"), value=repr(address))
    lang = language.strip().replace("-", "_")
    if lang and lang not in LOCALES:
        raise RegistryError(field_name, N_("language %(value)s is not one of %(allowed)s"),
                            value=repr(language), allowed=", ".join(LOCALES))  # fmt: skip
    return Recipient(channel, address, lang)


def check_clinic(
    site: str,
    name: str,
    address: str = "",
    sub_district: str = "",
    community: str = "",
    status: str = "open",
    parties: Iterable[Responsible] = (),
    recipients: Iterable[Recipient] = (),
) -> Clinic:
    """A validated :class:`Clinic` (:class:`RegistryError` names the first bad field)."""
    st = status.strip() or "open"
    if st not in STATUSES:
        raise RegistryError("status", N_("%(value)s is not one of %(allowed)s"), value=repr(status),
                            allowed=", ".join(STATUSES))  # fmt: skip
    ps = tuple(parties)
    seen = [p.party for p in ps]
    if len(set(seen)) != len(seen):
        raise RegistryError("party", N_("a party is named twice"))
    return Clinic(
        site=check_site(site),
        name=_text("name", name, 200, required=True),
        address=_text("address", address, 300),
        sub_district=_text("sub_district", sub_district, 100),
        community=_text("community", community, 100),
        status=st,
        parties=tuple(sorted(ps, key=lambda p: PARTIES.index(p.party))),
        recipients=tuple(recipients),
    )


def _load(conn: Connection, sites: Iterable[str] | None) -> list[Clinic]:
    q = select(clinics).order_by(clinics.c.site)
    pq = select(clinic_parties)
    rq = select(clinic_recipients).order_by(clinic_recipients.c.site, clinic_recipients.c.position)
    if sites is not None:
        wanted = list(sites)
        q = q.where(clinics.c.site.in_(wanted))
        pq = pq.where(clinic_parties.c.site.in_(wanted))
        rq = rq.where(clinic_recipients.c.site.in_(wanted))
    parties: dict[str, list[Responsible]] = {}
    for r in conn.execute(pq):
        parties.setdefault(r.site, []).append(
            Responsible(r.party, r.person, r.phone, r.email, r.webhook, r.username)
        )
    recips: dict[str, list[Recipient]] = {}
    for r in conn.execute(rq):
        recips.setdefault(r.site, []).append(Recipient(r.channel, r.address, r.language))
    return [
        Clinic(
            site=r.site,
            name=r.name,
            address=r.address,
            sub_district=r.sub_district,
            community=r.community,
            status=r.status,
            parties=tuple(sorted(parties.get(r.site, []), key=lambda p: PARTIES.index(p.party))),
            recipients=tuple(recips.get(r.site, [])),
            updated_at=float(r.updated_at),
        )
        for r in conn.execute(q)
    ]


def all_clinics(conn: Connection, sites: Iterable[str] | None = None) -> list[Clinic]:
    """Every clinic (or those of ``sites``), by id."""
    return _load(conn, sites)


def get(conn: Connection, site: str) -> Clinic | None:
    found = _load(conn, [site])
    return found[0] if found else None


def clinic_names(conn: Connection, sites: Iterable[str] | None = None) -> dict[str, str]:
    """site -> name for the registered clinics (of ``sites``); an unknown site has no entry (show
    its id and flag it)."""
    q = select(clinics.c.site, clinics.c.name)
    if sites is not None:
        q = q.where(clinics.c.site.in_(list(sites)))
    return {r.site: r.name for r in conn.execute(q)}


def known_sites(conn: Connection) -> frozenset[str]:
    return frozenset(conn.execute(select(clinics.c.site)).scalars())


def sites_for(conn: Connection, party: str, username: str) -> frozenset[str]:
    """The clinics whose ``party`` responsible person is linked to account ``username``."""
    q = select(clinic_parties.c.site).where(
        clinic_parties.c.party == party, clinic_parties.c.username == username
    )
    return frozenset(conn.execute(q).scalars())


def _row(c: Clinic, now: float) -> dict[str, object]:
    return {
        "name": c.name,
        "address": c.address,
        "sub_district": c.sub_district,
        "community": c.community,
        "status": c.status,
        "updated_at": now,
    }


def _as_detail(c: Clinic | None) -> dict[str, object] | None:
    if c is None:
        return None
    return {
        "name": c.name,
        "address": c.address,
        "sub_district": c.sub_district,
        "community": c.community,
        "status": c.status,
        "parties": {
            p.party: [p.person, p.phone, p.email, p.webhook, p.username] for p in c.parties
        },
        "recipients": [[r.channel, r.address, r.language] for r in c.recipients],
    }


def changes(before: Clinic | None, after: Clinic) -> dict[str, object]:
    """What differs between two versions (for the audit detail)."""
    old = _as_detail(before) or {}
    new = _as_detail(after) or {}
    return {k: {"from": old.get(k), "to": v} for k, v in new.items() if old.get(k) != v}


@dataclass(frozen=True)
class Change:
    """What :func:`save` changed on one clinic (for the audit trail)."""

    site: str
    created: bool
    changes: dict[str, object]


def save(conn: Connection, clinic: Clinic, *, now: float | None = None) -> Change | None:
    """Insert or replace ``clinic`` (its parties and recipients too); returns what changed, or None
    when nothing did."""
    at = time.time() if now is None else now
    before = get(conn, clinic.site)
    diff = changes(before, clinic)
    if before is not None and not diff:
        return None
    if before is None:
        conn.execute(insert(clinics).values(site=clinic.site, **_row(clinic, at)))
    else:
        conn.execute(
            update(clinics).where(clinics.c.site == clinic.site).values(**_row(clinic, at))
        )
        conn.execute(delete(clinic_parties).where(clinic_parties.c.site == clinic.site))
        conn.execute(delete(clinic_recipients).where(clinic_recipients.c.site == clinic.site))
    if clinic.parties:
        conn.execute(
            insert(clinic_parties),
            [
                {"site": clinic.site, "party": p.party, "person": p.person, "phone": p.phone,
                 "email": p.email, "webhook": p.webhook, "username": p.username}
                for p in clinic.parties
            ],
        )  # fmt: skip
    if clinic.recipients:
        conn.execute(
            insert(clinic_recipients),
            [
                {"site": clinic.site, "position": i, "channel": r.channel, "address": r.address,
                 "language": r.language}
                for i, r in enumerate(clinic.recipients)
            ],
        )  # fmt: skip
    return Change(clinic.site, before is None, diff)


def set_status(
    conn: Connection, site: str, status: Status, *, now: float | None = None
) -> Change | None:
    """Change only the opening status (closure orders); None when it already was."""
    c = get(conn, site)
    if c is None:
        raise RegistryError("site", N_("%(value)s is not in the registry"), value=repr(site))
    if c.status == status:
        return None
    conn.execute(
        update(clinics)
        .where(clinics.c.site == site)
        .values(status=status, updated_at=time.time() if now is None else now)
    )
    return Change(site, False, {"status": {"from": c.status, "to": status}})
