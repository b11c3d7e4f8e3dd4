"""The fleet at a glance for a district (``/``, 2,000 desks and more): desks grouped by state worst
first (offline, silent, a source not ok, open problems, ok) with counts per group, paged and
searched on the server, each desk's box version and the models its status names, built from the
rollups, each desk's newest health and status read by their exact times, and the open problems
(central/report/problems.py). The reads and their sharing between viewers are in
central/web/glance_reads.py; :func:`glance` classifies, filters and pages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from central.config import ConfigError
from central.report.days import Window, day_window, today
from central.report.kinds import NOT_WORKING, OFFLINE
from central.report.notification import Filters
from central.report.problems import DayProblem
from central.web.fleet import SILENT_AFTER_S, sources_not_ok
from central.web.glance_reads import shared_missing, shared_reads

GROUPS: tuple[str, ...] = ("offline", "silent", "sources", "problems", "ok")
"""Desk states, worst first: offline; silent (says online, sends nothing); a source (camera,
thermometer, vision) not ok; open problems; ok."""

GLANCE_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class GlanceFilters:
    """``/?group=offline&q=east&kind=crowding&page=2``."""

    group: str | None = None
    q: str = ""
    kind: str | None = None
    page: int = 1
    per_page: int = GLANCE_PER_PAGE

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> GlanceFilters:
        group = params.get("group") or None
        if group is not None and group not in GROUPS:
            raise ConfigError(f"group: {group[:20]!r} is not one of {', '.join(GROUPS)}")
        base = Filters.from_query(
            {k: v for k, v in params.items() if k in ("q", "kind", "page", "per_page")}
        )
        per_page = base.per_page if "per_page" in params else GLANCE_PER_PAGE
        return cls(group, base.q, base.kind, base.page, per_page)

    def query(self, **change: object) -> str:
        values = {"group": self.group or "", "q": self.q, "kind": self.kind or "",
                  "page": str(self.page) if self.page != 1 else ""}  # fmt: skip
        for k, v in change.items():
            values[k] = "" if v is None else str(v)
        return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True, slots=True)
class DeskGlance:
    """One desk on the district's fleet page."""

    site: str
    desk: str
    name: str | None
    group: str
    online: bool | None
    status_since: float | None
    last_seen: float | None
    """The newest health or status that took effect (from the rollups)."""
    version: str | None
    models: tuple[tuple[str, str], ...]
    """Task -> model (``<name>@<sha256 prefix>``), from the desk's newest status (``models``)."""
    sources: tuple[str, ...]
    outbox_depth: int | None
    silent_s: float | None
    screened: int
    fevers: int
    open_problems: tuple[DayProblem, ...]


@dataclass(frozen=True, slots=True)
class Glance:
    """The fleet page: counts per group, one page of desks (worst first), open problems."""

    window: Window
    generated: float
    filters: GlanceFilters
    groups: dict[str, int]
    """Desks per group (the viewer's clinics, before filters)."""
    desks: tuple[DeskGlance, ...]
    matched: int
    open_problems: tuple[DayProblem, ...]
    """Every open problem of the viewer's clinics (offline desks included), oldest first."""
    versions: dict[str, int]
    """Box version -> desks."""
    quarantined: dict[str, int] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    missing: dict[tuple[str, str], int] = field(default_factory=dict)
    """Sequence numbers missing among today's events per desk (events lost between the box and
    here; the technician's line)."""

    @property
    def missing_seq(self) -> int:
        return sum(self.missing.values())

    @property
    def desks_missing(self) -> int:
        return sum(1 for v in self.missing.values() if v)

    @property
    def total(self) -> int:
        return sum(self.groups.values())

    @property
    def pages(self) -> int:
        return max(1, -(-self.matched // self.filters.per_page))


MAX_MODELS = 3
"""Models shown per desk (the contract names three tasks: face, mask, person)."""
_SHORT = re.compile(r"[ -~]{1,40}")
"""A model's task or label as shown: 1 to 40 printable ASCII characters."""


def _models(doc: dict[str, object]) -> tuple[tuple[str, str], ...]:
    """The models a desk's status names (``models``: task -> ``<name>@<sha256 prefix>``), read as
    untrusted input: only string tasks and labels of 1 to 40 printable ASCII characters, at most
    :data:`MAX_MODELS` of them (of the first 16 entries), sorted; anything else is left out."""
    m = doc.get("models")
    if not isinstance(m, dict):
        return ()
    kept = [
        (k, v)
        for k, v in islice(m.items(), 16)
        if isinstance(k, str) and isinstance(v, str) and _SHORT.fullmatch(k) and _SHORT.fullmatch(v)
    ]
    return tuple(sorted(kept)[:MAX_MODELS])


def glance(
    engine: Engine,
    tz: ZoneInfo,
    sites: frozenset[str] | None = None,
    filters: GlanceFilters | None = None,
    names: Mapping[str, str] | None = None,
    now: float | None = None,
) -> Glance:
    """The fleet page for the viewer's clinics ``sites`` (None = all), from the rollups, the
    newest health and status of each desk (read by their exact times) and the open problems."""
    f = filters or GlanceFilters()
    names = names or {}
    now = time.time() if now is None else now
    window = day_window(today(tz, now), tz)
    missing = shared_missing(engine, sites, window)
    lasts, health, statuses, counts, open_by_site, refused = shared_reads(
        engine, sites, now, window.first
    )
    open_by_desk: dict[tuple[str, str], list[DayProblem]] = {}
    for ps in open_by_site.values():
        for p in ps:
            open_by_desk.setdefault((p.site, p.desk), []).append(p)
    desks: list[DeskGlance] = []
    for x in lasts:
        key = (x.site, x.desk)
        h = health.get(key)
        st = statuses.get(key)
        is_online = None if x.status is None else x.status == "online"
        silent = None
        if is_online:
            every = st.number("health_every_s") if st is not None else None
            limit = 3 * every if every else SILENT_AFTER_S
            age = now - (x.last_health if x.last_health is not None else (x.status_at or now))
            silent = age if age > limit else None
        sources = sources_not_ok(h.doc) if h is not None else ()
        problems_here = list(open_by_desk.get(key, []))
        if is_online is False and not any(p.alert == OFFLINE for p in problems_here):
            problems_here.append(DayProblem(x.site, x.desk, NOT_WORKING, OFFLINE, None,
                                            x.status_at, None, now - (x.status_at or now)))  # fmt: skip
        if is_online is False:
            group = "offline"
        elif silent is not None:
            group = "silent"
        elif sources:
            group = "sources"
        elif problems_here:
            group = "problems"
        else:
            group = "ok"
        depth = h.doc.get("outbox_depth") if h is not None else None
        version = h.doc.get("version") if h is not None else None
        desks.append(
            DeskGlance(
                site=x.site,
                desk=x.desk,
                name=names.get(x.site),
                group=group,
                online=is_online,
                status_since=x.status_at,
                last_seen=max(
                    (v for v in (x.last_health, x.status_at) if v is not None), default=None
                ),
                version=version[:32] if isinstance(version, str) else None,
                models=_models(st.doc) if st is not None else (),
                sources=sources,
                outbox_depth=depth if isinstance(depth, int) else None,
                silent_s=silent,
                screened=counts.get(key, (0, 0))[0],
                fevers=counts.get(key, (0, 0))[1],
                open_problems=tuple(sorted(problems_here, key=lambda p: p.start or 0.0)),
            )
        )
    groups = {g: 0 for g in GROUPS}
    versions: dict[str, int] = {}
    for d in desks:
        groups[d.group] += 1
        versions[d.version or "?"] = versions.get(d.version or "?", 0) + 1
    every_open = sorted((p for d in desks for p in d.open_problems), key=lambda p: p.start or 0.0)
    rank = {g: i for i, g in enumerate(GROUPS)}

    def keep(d: DeskGlance) -> bool:
        if f.group is not None and d.group != f.group:
            return False
        if f.kind is not None and not any(p.kind == f.kind for p in d.open_problems):
            return False
        if f.q:
            q = f.q.casefold()
            return q in d.site.casefold() or q in (d.name or "").casefold()
        return True

    matched = sorted((d for d in desks if keep(d)), key=lambda d: (rank[d.group], d.site, d.desk))
    start = (f.page - 1) * f.per_page
    return Glance(
        window, now, f, groups, tuple(matched[start : start + f.per_page]), len(matched),
        tuple(every_open), dict(sorted(versions.items(), key=lambda kv: -kv[1])), refused, names,
        missing,
    )  # fmt: skip
