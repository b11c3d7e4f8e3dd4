"""central/audit/trail.py: entries appended in the caller's transaction, read back by scope, and
never changed: the database itself refuses UPDATE and DELETE (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from central.audit.trail import UnknownActionError, entries, record
from central.store.db import open_db


def test_entries_are_appended_and_read_back_by_scope(db_url: str) -> None:
    engine = open_db(db_url)
    with engine.begin() as conn:
        record(conn, actor="wang", role="officer", action="notice.issued", target_kind="notice",
               target_id="2026-12-05-001", site="clinic-a", detail={"problems": 2}, at=10.0)  # fmt: skip
        record(conn, actor="li", role="admin", action="user.added", target_kind="user",
               target_id="zhao", detail={"role": "clinic", "名字": "赵"}, at=11.0)  # fmt: skip
        record(conn, actor="wang", role="officer", action="case.verified", target_kind="case",
               target_id="7", site="clinic-b", at=12.0)  # fmt: skip
    with engine.connect() as conn:
        everything = entries(conn)
        scoped = entries(conn, sites=["clinic-a"])
        one_user = entries(conn, target_kind="user", target_id="zhao")
    assert [e.action for e in everything] == ["case.verified", "user.added", "notice.issued"]
    assert [(e.actor, e.target_id, e.detail) for e in scoped] == [
        ("wang", "2026-12-05-001", {"problems": 2})
    ]
    assert one_user[0].detail == {"role": "clinic", "名字": "赵"}


def test_the_database_refuses_to_change_or_remove_an_entry(db_url: str) -> None:
    engine = open_db(db_url)
    with engine.begin() as conn:
        record(conn, actor="wang", role="officer", action="case.closed", target_kind="case",
               target_id="1", site="clinic-a")  # fmt: skip
    for sql in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    with engine.connect() as conn:
        assert [e.actor for e in entries(conn)] == ["wang"]


def test_an_undeclared_action_is_refused(db_url: str) -> None:
    engine = open_db(db_url)
    with pytest.raises(UnknownActionError, match="notice.isued"), engine.begin() as conn:
        record(conn, actor="wang", role="officer", action="notice.isued", target_kind="notice",
               target_id="1")  # fmt: skip
