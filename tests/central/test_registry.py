"""The clinic registry on SQLite and PostgreSQL: CSV import (UTF-8 with a BOM, Chinese names,
every bad row named by line and column, nothing half-imported) and export (read back unchanged),
the look-ups (clinic_names, sites_for), every change audited, the command line, and the dashboard:
editing by ``registry.edit`` only, scoped reading, unknown clinics flagged."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.accounts import users as accounts
from central.accounts.roles import PARTIES as ACCOUNT_PARTIES
from central.audit.trail import entries
from central.cli import main
from central.loop.registry_edits import import_csv
from central.registry.clinics import PARTIES, all_clinics, clinic_names, get, sites_for
from central.registry.csvfile import ImportRefusedError, export_text, read
from central.store.db import open_db
from tests.central.browser import served
from tests.central.district_week import REGISTRY_CSV, TZ, registry, store_week
from tests.central.test_accounts import ADMIN, PASSWORD, Client


def test_parties_are_the_accounts_parties() -> None:
    assert PARTIES == ACCOUNT_PARTIES


def test_csv_import_and_export(db_url: str) -> None:
    engine = open_db(db_url)
    registry(engine)
    with engine.connect() as conn:
        names = clinic_names(conn)
        c1 = get(conn, "c-01")
        assert sites_for(conn, "sub_district", "wang") == {"c-01", "c-02"}
        assert sites_for(conn, "health_bureau", "wang") == frozenset()
        trail = entries(conn, target_kind="clinic")
        exported = export_text(conn)
    assert names["c-01"] == "阳光诊所"
    assert len(names) == 5
    assert c1 is not None
    assert c1.sub_district == "东湖街道"
    hb = c1.party("health_bureau")
    assert hb is not None
    assert (hb.person, hb.phone, hb.email) == ("张卫", "13800000001", "zhang@example.cn")
    assert [(r.channel, r.address) for r in c1.recipients] == [("email", "c01@example.cn")]
    assert [e.action for e in trail] == ["registry.imported"] * 5
    # The export starts with a BOM and reads back as the same clinics; importing it changes nothing.
    assert exported.startswith("\ufeffsite,name,")
    with engine.begin() as conn:
        assert read(exported) == all_clinics(conn)
        assert import_csv(conn, exported, actor="ada", role="admin").changed == 0


def test_a_bad_file_imports_nothing(db_url: str) -> None:
    engine = open_db(db_url)
    registry(engine)
    bad = (
        "site,name,status,community_person,community_email,recipients\n"
        "c-09,新诊所,open,周社,zhou@example.cn,\n"
        "c 10,坏编号,open,,,\n"
        "c-11,,open,,,\n"
        "c-12,状态错,shut,,,\n"
        "c-13,邮箱错,open,周社,not-an-address,\n"
        "c-14,接收人错,open,,,fax:123\n"
        "c-09,重复,open,,,\n"
    )
    with engine.begin() as conn, pytest.raises(ImportRefusedError) as info:
        import_csv(conn, bad, actor="ada", role="admin")
    errors = [(e.line, e.column) for e in info.value.errors]
    assert errors == [(3, "site"), (4, "name"), (5, "status"), (6, "community_email"),
                      (7, "recipients"), (8, "site")]  # fmt: skip
    assert "line 6, community_email: 'not-an-address' is not an e-mail address" in str(info.value)
    with engine.connect() as conn:
        assert get(conn, "c-09") is None
        assert len(all_clinics(conn)) == 5
    with pytest.raises(ImportRefusedError, match="line 1, phone: unknown column"):
        read("site,name,phone\nc-1,x,1\n")
    with pytest.raises(ImportRefusedError, match="line 1, name: missing column"):
        read("site\nc-1\n")


def test_formula_cells_survive_the_round_trip(tmp_path: Path) -> None:
    engine = open_db(str(tmp_path / "r.sqlite3"))
    with engine.begin() as conn:
        import_csv(conn, "site,name,address\nc-1,=HYPERLINK(1),+86 路\n", actor="a", role="admin")
        text = export_text(conn)
        assert "'=HYPERLINK(1)" in text
        assert read(text)[0].name == "=HYPERLINK(1)"
        assert read(text)[0].address == "+86 路"


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.sqlite3")
    good = tmp_path / "registry.csv"
    good.write_text(REGISTRY_CSV, encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("site,name\nc-1,\n", encoding="utf-8")
    assert main(["registry", "--db", db, "import", str(bad)]) == 65
    assert "line 2, name: is required" in capsys.readouterr().err
    assert main(["registry", "--db", db, "import", str(good)]) == 0
    assert "5 clinics read, 5 added or changed" in capsys.readouterr().out
    out = tmp_path / "out.csv"
    assert main(["registry", "--db", db, "export", str(out)]) == 0
    assert "阳光诊所" in out.read_text(encoding="utf-8-sig")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("site,name\nc-1,Caf\xe9\n".encode("latin-1"))
    assert main(["registry", "--db", db, "import", str(latin)]) == 78


@pytest.mark.slow
def test_pages_edit_by_permission_and_scope(db_url: str) -> None:
    engine = open_db(db_url)
    store_week(engine)
    registry(engine)
    with engine.begin() as conn:
        for name, role, who in [("ada", "admin", None), ("olu", "officer", None),
                                  ("wang", "party", "sub_district")]:  # fmt: skip
            accounts.add(conn, ADMIN, username=name, role=role, password=PASSWORD, party=who)
    with served(engine, TZ) as url:
        admin, officer, party = Client(url), Client(url), Client(url)
        for c, n in ((admin, "ada"), (officer, "olu"), (party, "wang")):
            assert c.sign_in(n) == 303
        form = {"name": "阳光社区诊所", "address": "幸福路1号", "sub_district": "东湖街道",
                "community": "花园社区", "status": "open", "health_bureau_person": "张卫",
                "sub_district_person": "王街", "sub_district_username": "wang",
                "recipients": "email:c01@example.cn"}  # fmt: skip
        status, _, body = officer.call("/registry/c-01", {**form, "csrf_token": officer.csrf("/")})
        assert status == 403, body
        status, _, body = admin.call(
            "/registry/c-01", {**form, "health_bureau_email": "bad", "csrf_token": admin.csrf("/")}
        )
        assert status == 200
        assert "health_bureau_email" in body
        # The refusal in the page's language (issue 21 item 8).
        for lang, said in (("zh_CN", "不是电子邮件地址"), ("en", "is not an e-mail address")):
            status, _, body = admin.call(
                f"/registry/c-01?lang={lang}",
                {**form, "health_bureau_email": "bad", "csrf_token": admin.csrf("/")},
            )
            assert status == 200
            assert f"health_bureau_email: &#39;bad&#39; {said}" in body, body[-1500:]
        status, _, _ = admin.call("/registry/c-01", {**form, "csrf_token": admin.csrf("/")})
        assert status == 303
        status, _, body = admin.call("/registry")
        assert "阳光社区诊所" in body
        assert "x-99" in body  # a desk of an unregistered clinic, flagged
        # The sub-district's person sees the clinics the registry names them for, no other.
        status, _, body = party.call("/registry")
        assert status == 200
        assert "阳光社区诊所" in body
        assert "康宁诊所" not in body
        assert party.call("/clinic/c-03/loop")[0] == 404
        assert party.call("/clinic/c-01/loop")[0] == 200
        assert party.call("/registry/c-01")[0] == 403
    with engine.connect() as conn:
        edits = [e for e in entries(conn, target_kind="clinic", target_id="c-01")
                 if e.action == "registry.edited"]  # fmt: skip
        c1 = get(conn, "c-01")
    assert len(edits) == 1
    assert edits[0].actor == "ada"
    assert edits[0].detail["changes"]["name"] == {"from": "阳光诊所", "to": "阳光社区诊所"}  # type: ignore[index]
    assert c1 is not None
    assert c1.party("health_bureau") is not None
