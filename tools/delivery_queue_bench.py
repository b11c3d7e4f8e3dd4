"""Delivery queue throughput (docs/CENTRAL.md, "Deliveries", "Measured"): enqueue N messages and
drain them with 1, 2 and 4 workers (threads) to a real local WeCom-format receiver, on SQLite and
on a private PostgreSQL; checks every row reached the receiver exactly once.

    .venv/bin/python -m tools.delivery_queue_bench [--rows 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time

from central.delivery import queue
from central.delivery.destinations import check_destination
from central.delivery.message import Message
from central.delivery.send import drain
from central.store.db import open_db
from tests.central.receivers import HttpReceiver
from tools.pgserver import Postgres, pg_bin


def run(url: str, workers: int, rows: int) -> str:
    engine = open_db(url)
    recv = HttpReceiver().start()
    dest = check_destination("wecom", recv.url("/wecom/send?key=BENCHKEY"), "zh_CN")
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for i in range(rows):
            msg = Message(f"notice {i}", f"**notice {i}**\n" + "m" * 800, "t")
            queue.enqueue(conn, subject=f"notice:{i}", kind="notice", dest=dest, message=msg)
    t1 = time.perf_counter()
    sent: dict[str, int] = {}

    def work(name: str) -> None:
        sent[name] = drain(engine, name, queue.Policy(), None).sent

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t2 = time.perf_counter()
    heads = [h.json()["markdown"]["content"].split("\n", 1)[0] for h in recv.taken()]
    recv.stop()
    once = len(heads) == rows == len(set(heads))
    return (
        f"{engine.dialect.name:<10} workers={workers}: enqueue {rows / (t1 - t0):.0f}/s, "
        f"sent {rows / (t2 - t1):.0f}/s, per worker {sorted(sent.values())}, "
        f"each row received once: {once}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=1000)
    a = p.parse_args()
    bindir = pg_bin()
    if bindir is None:
        raise SystemExit("PostgreSQL binaries are missing: make setup")
    pg = Postgres(bindir).start()
    try:
        for workers in (1, 2, 4):
            print(run(tempfile.mkdtemp() + "/central.sqlite3", workers, a.rows), flush=True)
            print(run(pg.create_database(), workers, a.rows), flush=True)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
