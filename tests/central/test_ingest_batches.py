"""The collector's fast paths keep its guarantees (issue 20 item 3, docs/CENTRAL.md "Ingest at
district rate"): a batch written by ``COPY``/``unnest`` on PostgreSQL stores what ``executemany``
stored, a row the database refuses is still isolated and quarantined alone, the checked document
handed to the rollups is what the stored row reads back as, and the payload checks refuse exactly
what they refused when every string was checked."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select

from agent.wire.contract import encode
from central.store import records
from central.store.db import open_db
from central.store.reader import from_row
from central.store.records import NotAnEventError, checked, parse_payload
from central.store.rollups import reconcile
from central.store.tables import events, quarantine
from central.store.writer import _stored, store_isolating
from tools.district_load import PREFIX, desk_day, identity
from tools.pgserver import Postgres

NOW = time.time()


def batch(desks: int = 20, per_desk: int = 30) -> list[tuple[records.Row, dict[str, object]]]:
    out = []
    for d in range(desks):
        for seq, e in enumerate(desk_day(d, per_desk, NOW - 3600)):
            m = encode(e, identity(d), seq + 1)
            out.append(checked(PREFIX, m.topic, m.payload, NOW))
    return out


def test_the_checked_document_is_what_the_row_reads_back_as() -> None:
    for row, doc in batch(5, 30):
        assert _stored(row, {row.event_id: doc}) == from_row(row)
        assert _stored(row, None) == from_row(row)


TRICKY = [
    b'{"a":"x\\u0000"}', b'{"a":"\\ud800"}', b'{"a":"\\n"}', b'{"a\\u0007":1}', b'{"a":"\xc2\x85"}',
    b'{"a":"\x7f"}', b'{"a":"ok \\"quoted\\""}', b'{"a":"\\u00e9t\\u00e9"}',
    b'{"a":' + b"[" * 9 + b"]" * 9 + b"}", b'{"a":' + b"[" * 7 + b"]" * 7 + b"}",
    b'{"a":[{"b":[{"c":[{"d":{"e":1}}]}]}]}', b'{"a":[[[[[[[["x\\u0001"]]]]]]]]}',
    b'{"a":"\x01"}', b'{"a":NaN}', b'{"a":1e400}', b'{"a":123456789012345678901}',
]  # fmt: skip


def _slow(payload: bytes) -> object:
    """parse_payload with every string checked (as before the fast path)."""
    try:
        doc = records.strict_json(payload.decode("utf-8"))
    except Exception as exc:
        return type(exc).__name__
    try:
        records._check_tree(doc)
    except NotAnEventError as exc:
        return exc.reason
    return doc


@pytest.mark.parametrize("payload", TRICKY)
def test_the_payload_checks_refuse_what_checking_every_string_refused(payload: bytes) -> None:
    try:
        got: object = parse_payload(payload)
    except NotAnEventError as exc:
        got = exc.reason
    want = _slow(payload)
    if isinstance(want, str) and want.endswith("Error"):  # the parser's own refusals
        assert isinstance(got, records.Reason)
    else:
        assert got == want


def test_a_batch_on_postgresql_is_stored_once_with_its_rollups_and_a_bad_row_alone(
    postgres: Postgres,
) -> None:
    engine = open_db(postgres.create_database())
    pairs = batch()
    rows = [r for r, _ in pairs]
    docs = {r.event_id: d for r, d in pairs}
    bad = replace(rows[7], site="s" * 100)  # fits the checks here, not the column (64)
    rows[7] = bad
    done = store_isolating(engine, rows, tz="UTC", docs=docs)
    assert len(done.new) == len(rows) - 1
    assert bad.event_id not in done.new
    assert [q.reason for q in done.refused] == ["database"]
    again = store_isolating(engine, rows[8:100], tz="UTC", docs=docs)  # redelivered
    assert not again.new
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == len(rows) - 1
        assert conn.execute(select(func.count()).select_from(quarantine)).scalar_one() == 1
        payloads = set(conn.execute(select(events.c.payload)).scalars())
    assert {r.payload for r in rows if r is not bad} == payloads
    assert all(json.loads(p)["id"] for p in payloads)
    days = sorted({date(*time.gmtime(r.ts)[:3]) for r in rows})
    assert reconcile(engine, days, "UTC").matched
