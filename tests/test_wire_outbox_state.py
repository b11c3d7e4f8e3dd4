"""Tests of agent.wire.outbox_state: the service's named state texts in the outbox's SQLite file.

Saved and loaded through a real outbox file (``outbox.state``): kept across a reopen, upserted,
unknown keys None, any text kept exactly; written with a message in one transaction
(:meth:`Outbox.append` with ``state``: both or neither when encoding fails); concurrent saves under
the outbox's lock. The error paths on real SQLite: a read-only connection (save False, the fault
reported, the transaction rolled back, the lock released), a file without the table (load None,
logged) and a real full file system (root only: a tmpfs filled to the last byte; the saved text
survives untouched and the outbox names ``disk full``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.wire.contract import WireMessage
from agent.wire.outbox import Outbox
from agent.wire.outbox_faults import NotOpenError
from agent.wire.outbox_state import StateStore, write
from tests.conftest import fill

SCHEMA = "CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def message(seq: int) -> WireMessage:
    return WireMessage(f"clinic/desk/{seq}", b"{}", retain=False)


def rows(path: Path) -> dict[str, str]:
    """The state table as another process would read it."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT key, value FROM state").fetchall())


def test_saved_texts_survive_a_reopen_and_are_upserted(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    assert box.state.load("summary") is None
    assert box.state.save({"summary": '{"arrivals": 3}', "alive": "1700000000.5"})
    assert box.state.save({"alive": "1700000060.5"})  # only this key changes
    box.close()
    assert rows(path) == {"summary": '{"arrivals": 3}', "alive": "1700000060.5"}
    again = Outbox(path)
    assert again.state.load("summary") == '{"arrivals": 3}'
    assert again.state.load("alive") == "1700000060.5"
    assert again.state.load("other") is None
    assert again.state.save({})  # nothing to save is no error
    again.close()


@pytest.mark.parametrize(
    "text",
    ["", " ", "诊室 2 · 体温 37.9 °C", "x" * 200_000, "line\nbreak\ttab", "'; DROP TABLE state"],
)
def test_any_text_is_kept_exactly(tmp_path: Path, text: str) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.state.save({"k": text})
    assert box.state.load("k") == text
    box.close()


def test_state_written_with_a_message_commits_with_it_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    seq = box.append(message, state={"summary": json.dumps({"arrivals": 1})})
    assert box.state.load("summary") == '{"arrivals": 1}'

    def broken(seq: int) -> WireMessage:
        raise ValueError("cannot encode")

    with pytest.raises(ValueError, match="cannot encode"):
        box.append(broken, state={"summary": json.dumps({"arrivals": 2})})
    assert box.state.load("summary") == '{"arrivals": 1}'  # neither the message nor the state
    assert [m.seq for m in box.peek()] == [seq]
    box.append(message, state={"summary": json.dumps({"arrivals": 2})})
    box.close()
    assert rows(path) == {"summary": '{"arrivals": 2}'}


def test_write_upserts_inside_the_callers_transaction(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "s.sqlite3", isolation_level=None)
    db.execute(SCHEMA)
    db.execute("BEGIN")
    write(db, {"a": "1", "b": "2"})
    write(db, {"a": "3"})
    assert db.in_transaction  # write never commits on its own
    db.execute("ROLLBACK")
    assert db.execute("SELECT count(*) FROM state").fetchone() == (0,)
    db.execute("BEGIN")
    write(db, {"a": "1", "b": "2"})
    write(db, {"a": "3"})
    db.execute("COMMIT")
    assert dict(db.execute("SELECT key, value FROM state").fetchall()) == {"a": "3", "b": "2"}
    db.close()


def test_concurrent_saves_all_land(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    results: list[bool] = []

    def saver(n: int) -> None:
        results.extend(box.state.save({f"t{n}": str(i)}) for i in range(30))

    threads = [threading.Thread(target=saver, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [True] * 180
    assert [box.state.load(f"t{n}") for n in range(6)] == ["29"] * 6
    box.close()


class Faults:
    """Records what the store reports, as the outbox's fault machine would be told."""

    def __init__(self) -> None:
        self.reported: list[tuple[str, str]] = []

    def failed(self, exc: BaseException, doing: str) -> Exception:
        self.reported.append((type(exc).__name__, doing))
        return RuntimeError(f"{doing}: {exc}")


def test_a_save_that_cannot_write_returns_false_rolls_back_and_frees_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    with sqlite3.connect(path) as setup:
        setup.execute(SCHEMA)
        setup.execute("INSERT INTO state VALUES ('summary', 'kept')")
    setup.close()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    lock = threading.Lock()
    faults = Faults()
    rolled_back: list[bool] = []

    def rollback() -> None:
        rolled_back.append(db.in_transaction)
        if db.in_transaction:
            db.execute("ROLLBACK")

    store = StateStore(lock, lambda: db, faults.failed, rollback)
    assert store.save({"summary": "new"}) is False
    assert faults.reported == [("OperationalError", "state write")]
    assert rolled_back == [True]  # the BEGIN IMMEDIATE was open when the insert failed
    assert not db.in_transaction
    assert lock.acquire(blocking=False)
    lock.release()
    assert store.load("summary") == "kept"  # reads still work
    db.close()


def test_a_store_with_no_database_open_saves_nothing_and_loads_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def not_open() -> sqlite3.Connection:
        raise NotOpenError("the outbox is not open")

    faults = Faults()
    rollbacks: list[None] = []
    store = StateStore(threading.Lock(), not_open, faults.failed, lambda: rollbacks.append(None))
    with caplog.at_level(logging.WARNING, logger="agent.wire.outbox"):
        assert store.save({"a": "1"}) is False
        assert store.load("a") is None
    assert faults.reported == [("NotOpenError", "state write")]
    assert rollbacks == [None]
    assert [r.getMessage() for r in caplog.records] == [
        "cannot read the saved a: the outbox is not open"
    ]


def test_a_file_without_the_table_loads_none_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = sqlite3.connect(tmp_path / "old.sqlite3", isolation_level=None)
    store = StateStore(threading.Lock(), lambda: db, Faults().failed, lambda: None)
    with caplog.at_level(logging.WARNING, logger="agent.wire.outbox"):
        assert store.load("summary") is None
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith("cannot read the saved summary: no such table")
    db.close()


def test_a_full_file_system_refuses_the_save_and_keeps_the_old_text(
    small_fs: Callable[[str], Path],
) -> None:
    fs = small_fs("2m")
    box = Outbox(fs / "o.sqlite3")
    assert box.state.save({"summary": "before"})
    filler = fill(fs)
    big = "y" * 400_000  # far more than any free page left in the file or its WAL
    assert box.state.save({"summary": big}) is False
    assert box.fault == "disk full"
    assert box.state.load("summary") == "before"
    filler.unlink()
    assert box.state.save({"summary": "after"})
    assert box.state.load("summary") == "after"
    box.close()
