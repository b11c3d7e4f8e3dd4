"""Sequence numbers missing per desk, in the collector (SeqGaps) and from the database (fleet): a
number lost is counted, the Will number of a connection that ended cleanly is not."""

from __future__ import annotations

import json
import time

from central.seqgaps import SeqGaps
from central.store import reader
from central.store.db import open_db
from central.store.records import to_row
from central.store.writer import store
from tests.central.hostile import PREFIX, good_doc


def _events(seqs_and_kinds: list[tuple[int, str]], desk: str = "desk-1") -> list[bytes]:
    out = []
    for seq, what in seqs_and_kinds:
        doc = good_doc(seq)
        if what != "temperature":
            doc.update({"kind": "status", "state": what})
            for k in ("result", "object_c", "ambient_c", "estimate_c", "threshold_c", "plateau_s",
                      "samples"):  # fmt: skip
                doc.pop(k)
        out.append(json.dumps(doc).encode())
    return out


# online 1, Will 2 (never published: the connection ended cleanly), stopping 3, offline 4,
# online 5 (Will 6 unpublished), 7 and 8 lost, 9, online 10 (the newest connection: its Will 11
# is not a gap yet).
STREAM = [(1, "online"), (3, "stopping"), (4, "offline"), (5, "online"), (9, "temperature"),
          (10, "online")]  # fmt: skip


def test_the_collector_counts_lost_numbers_not_unpublished_wills() -> None:
    gaps = SeqGaps()
    for seq, what in STREAM:
        gaps.add("clinic-001", "desk-1", "d", seq, online=what == "online")
    assert gaps.missing == 2
    assert gaps.desks_with_gaps() == [("clinic-001", "desk-1", 2)]
    lost_will = SeqGaps()
    for seq, what in [(1, "online"), (2, "offline"), (3, "online")]:  # the Will was published
        lost_will.add("c", "d", "d", seq, online=what == "online")
    assert lost_will.missing == 0


def test_the_fleet_counts_lost_numbers_not_unpublished_wills(db_url: str) -> None:
    engine = open_db(db_url)
    now = time.time()
    kinds = {seq: what for seq, what in STREAM}
    rows = [
        to_row(PREFIX, f"{PREFIX}/clinic-001/desk-1/{'temperature' if kinds[seq] == 'temperature' else 'status'}",
               payload, now)
        for (seq, _), payload in zip(STREAM, _events(STREAM), strict=True)
    ]  # fmt: skip
    store(engine, rows)
    assert reader.missing_seq(engine, now - 3600, now + 3600) == {("clinic-001", "desk-1"): 2}
