"""Double-random spot checks (双随机、一公开): draw N clinics and M inspectors at random,
reproducibly, record each clinic's result, and verify a draw from its record.

The draw is a pure function of a recorded seed and the recorded inputs (the sorted candidate
clinics, the sorted candidate inspectors, N and M): each candidate is ranked by
``SHA-256(seed ":" kind ":" name)`` and the lowest N (M) are drawn. Anyone with the record can
re-run it with any SHA-256 tool; ``triage-central spotcheck verify ID`` does. The inputs' digest
(SHA-256 of their canonical JSON) is recorded and shown so a changed record is noticed.

Candidates: clinics are those the registry lists (``central.registry.clinics.known_sites``), or
while it lists none every clinic with a box that reported (the daily rollups); inspectors are the
unlocked accounts of district officers and enforcement-bureau party members.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal, get_args

from sqlalchemy import Connection, insert, select, update

from central.accounts.tables import spot_check_clinics, spot_checks, users
from central.audit import trail
from central.registry.clinics import known_sites
from central.store import rollups
from central.store.tables import rollup_days

Outcome = Literal["pending", "compliant", "rectify", "failed"]
OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)
Rectification = Literal["none", "required", "rectified"]
RECTIFICATIONS: Final[tuple[Rectification, ...]] = get_args(Rectification)


class SpotCheckError(ValueError):
    """A draw or a result that cannot be recorded; the message says why."""


@dataclass(frozen=True)
class DrawInputs:
    """Everything the draw depends on besides the seed."""

    clinics: tuple[str, ...]
    inspectors: tuple[str, ...]
    n: int
    m: int

    def canonical(self) -> str:
        return json.dumps(
            {"clinics": list(self.clinics), "inspectors": list(self.inspectors),
             "n": self.n, "m": self.m},
            sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        )  # fmt: skip

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()


@dataclass(frozen=True)
class Drawn:
    clinics: tuple[str, ...]
    inspectors: tuple[str, ...]


def rank(seed: str, kind: str, name: str) -> str:
    return hashlib.sha256(f"{seed}:{kind}:{name}".encode()).hexdigest()


def draw_from(seed: str, inputs: DrawInputs) -> Drawn:
    """The draw itself: pure, reproducible from ``seed`` and ``inputs``."""
    clinics = sorted(inputs.clinics, key=lambda c: rank(seed, "clinic", c))[: inputs.n]
    people = sorted(inputs.inspectors, key=lambda p: rank(seed, "inspector", p))[: inputs.m]
    return Drawn(tuple(sorted(clinics)), tuple(sorted(people)))


@dataclass(frozen=True)
class ClinicResult:
    site: str
    outcome: Outcome
    rectification: Rectification
    finding: str
    recorded_at: float | None
    recorded_by: str | None


@dataclass(frozen=True)
class SpotCheck:
    """One recorded draw and its results."""

    id: str
    day: date
    drawn_at: float
    drawn_by: str
    seed: str
    inputs: DrawInputs
    inputs_digest: str
    drawn: Drawn
    results: tuple[ClinicResult, ...]


def candidate_clinics(conn: Connection) -> list[str]:
    """The registry's clinics, else every clinic whose box reported."""
    listed = known_sites(conn)
    if listed:
        return sorted(listed)
    return sorted({str(s) for (s,) in conn.execute(select(rollup_days.c.site).distinct())})


def candidate_inspectors(conn: Connection) -> list[str]:
    """Unlocked district officers and enforcement-bureau party members."""
    q = select(users.c.username).where(
        users.c.locked.is_(False),
        (users.c.role == "officer")
        | ((users.c.role == "party") & (users.c.party == "enforcement_bureau")),
    )
    return sorted(str(u) for (u,) in conn.execute(q))


def draw(
    conn: Connection,
    *,
    actor: str,
    role: str,
    day: date,
    n: int,
    m: int,
    clinics: Sequence[str] | None = None,
    inspectors: Sequence[str] | None = None,
    seed: str | None = None,
) -> SpotCheck:
    """Draw and record (audit: ``spotcheck.drawn``) in the caller's transaction."""
    cl = sorted(set(clinics if clinics is not None else candidate_clinics(conn)))
    ins = sorted(set(inspectors if inspectors is not None else candidate_inspectors(conn)))
    if n < 1 or m < 1:
        raise SpotCheckError("draw at least one clinic and one inspector")
    if n > len(cl):
        raise SpotCheckError(f"cannot draw {n} clinics from {len(cl)} candidates")
    if m > len(ins):
        raise SpotCheckError(f"cannot draw {m} inspectors from {len(ins)} candidates")
    seed = seed or secrets.token_hex(16)
    inputs = DrawInputs(tuple(cl), tuple(ins), n, m)
    drawn = draw_from(seed, inputs)
    check_id = f"SC-{day:%Y%m%d}-{seed[:8]}"
    now = time.time()
    conn.execute(
        insert(spot_checks).values(
            id=check_id, day=day, drawn_at=now, drawn_by=actor, seed=seed,
            inputs=inputs.canonical(), inputs_digest=inputs.digest,
            result=json.dumps({"clinics": list(drawn.clinics),
                               "inspectors": list(drawn.inspectors)}, sort_keys=True),
        )
    )  # fmt: skip
    for site in drawn.clinics:
        conn.execute(
            insert(spot_check_clinics).values(
                check_id=check_id, site=site, outcome="pending", rectification="none", finding=""
            )
        )
    trail.record(
        conn, actor=actor, role=role, action="spotcheck.drawn", target_kind="spotcheck",
        target_id=check_id,
        detail={"day": day.isoformat(), "seed": seed, "inputs_digest": inputs.digest,
                "clinics": list(drawn.clinics), "inspectors": len(drawn.inspectors)},
    )  # fmt: skip
    for site in drawn.clinics:
        trail.record(
            conn, actor=actor, role=role, action="spotcheck.drawn", target_kind="spotcheck",
            target_id=check_id, site=site, detail={"day": day.isoformat()},
        )  # fmt: skip
    found = get(conn, check_id)
    assert found is not None
    return found


def get(conn: Connection, check_id: str) -> SpotCheck | None:
    row = conn.execute(select(spot_checks).where(spot_checks.c.id == check_id)).mappings().first()
    if row is None:
        return None
    raw = json.loads(row["inputs"])
    inputs = DrawInputs(tuple(raw["clinics"]), tuple(raw["inspectors"]), raw["n"], raw["m"])
    result = json.loads(row["result"])
    res = conn.execute(
        select(spot_check_clinics)
        .where(spot_check_clinics.c.check_id == check_id)
        .order_by(spot_check_clinics.c.site)
    ).mappings()
    return SpotCheck(
        id=str(row["id"]), day=row["day"], drawn_at=float(row["drawn_at"]),
        drawn_by=str(row["drawn_by"]), seed=str(row["seed"]), inputs=inputs,
        inputs_digest=str(row["inputs_digest"]),
        drawn=Drawn(tuple(result["clinics"]), tuple(result["inspectors"])),
        results=tuple(
            ClinicResult(str(r["site"]), r["outcome"], r["rectification"], str(r["finding"]),
                         r["recorded_at"], r["recorded_by"])
            for r in res
        ),
    )  # fmt: skip


def listing(conn: Connection, limit: int = 100) -> list[SpotCheck]:
    ids = conn.execute(
        select(spot_checks.c.id).order_by(spot_checks.c.drawn_at.desc()).limit(limit)
    ).scalars()
    return [c for c in (get(conn, str(i)) for i in list(ids)) if c is not None]


@dataclass(frozen=True)
class Verified:
    """A draw re-run from its record."""

    check_id: str
    digest_matches: bool
    result_matches: bool
    drawn: Drawn

    @property
    def ok(self) -> bool:
        return self.digest_matches and self.result_matches


def verify(conn: Connection, check_id: str) -> Verified:
    """Re-run a recorded draw from its seed and inputs and compare."""
    found = get(conn, check_id)
    if found is None:
        raise SpotCheckError(f"no spot check {check_id!r}")
    again = draw_from(found.seed, found.inputs)
    return Verified(
        check_id, found.inputs.digest == found.inputs_digest, again == found.drawn, again
    )


def record_result(
    conn: Connection,
    *,
    actor: str,
    role: str,
    check_id: str,
    site: str,
    outcome: str,
    rectification: str,
    finding: str,
) -> None:
    """Record what the inspectors found at one drawn clinic (audit: ``spotcheck.result``)."""
    if outcome not in OUTCOMES:
        raise SpotCheckError(f"outcome {outcome!r}: one of {', '.join(OUTCOMES)}")
    if rectification not in RECTIFICATIONS:
        raise SpotCheckError(f"rectification {rectification!r}: one of {', '.join(RECTIFICATIONS)}")
    finding = finding.strip()
    if len(finding) > 2000:
        raise SpotCheckError("finding: at most 2000 characters")
    done = conn.execute(
        update(spot_check_clinics)
        .where(spot_check_clinics.c.check_id == check_id, spot_check_clinics.c.site == site)
        .values(
            outcome=outcome, rectification=rectification, finding=finding,
            recorded_at=time.time(), recorded_by=actor,
        )
    )  # fmt: skip
    if done.rowcount == 0:
        raise SpotCheckError(f"clinic {site!r} was not drawn in {check_id!r}")
    trail.record(
        conn, actor=actor, role=role, action="spotcheck.result", target_kind="spotcheck",
        target_id=check_id, site=site,
        detail={"outcome": outcome, "rectification": rectification, "finding": finding},
    )  # fmt: skip


@dataclass(frozen=True)
class BoxFacts:
    """What the clinic's boxes reported that day (from the daily rollups), all desks summed."""

    desks: int
    screened: int
    fevers: int
    arrivals: int
    problems: int


def facts(conn: Connection, day: date, site: str) -> BoxFacts:
    got = rollups.read(conn, day, day, site).values()
    return BoxFacts(
        desks=len(got),
        screened=sum(r.screened for r in got),
        fevers=sum(r.fevers for r in got),
        arrivals=sum(r.arrivals for r in got),
        problems=sum(r.problems for r in got),
    )
