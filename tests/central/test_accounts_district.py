"""Who sees what over the scripted district week (tests/central/district_week.py: real contract
events, a registry with the parties' named persons, phones and e-mails, Monday's notices issued):
every GET route of the app, other features' pages included, as a clinic user and as a
sub-district party member shows no clinic out of their scope; the public page lists the notices
and their rectification but no person, phone, e-mail or user name."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine
from starlette.routing import Route

from central.accounts import users as accounts
from central.loop.cases import list_cases
from central.loop.notices import draft_day, issue
from central.loop.settings import LoopSettings
from central.store.db import open_db
from central.web.server import create_app
from tests.central.browser import served
from tests.central.district_week import MONDAY, TZ, at, registry, store_week
from tests.central.test_accounts import ADMIN, PASSWORD, Client

pytestmark = pytest.mark.slow

NAMES = {"c-01": "阳光诊所", "c-02": "仁和门诊部", "c-03": "康宁诊所", "c-04": "百草堂诊所",
         "c-05": "安心诊所", "x-99": "x-99"}  # fmt: skip
PERSONAL = ["张卫", "王街", "李社", "赵社", "刘街", "钱社", "孙社", "13800000001", "13900000001",
            "@example.cn", "zhou", "wang", "liu", "clin", "tca_"]  # fmt: skip


@pytest.fixture
def week(db_url: str) -> Engine:
    engine = open_db(db_url)
    store_week(engine)
    with engine.begin() as conn:
        for name, role, party, site in [
            ("zhou", "officer", None, None),
            ("wang", "party", "sub_district", None),
            ("clin", "clinic", None, "c-01"),
        ]:
            accounts.add(conn, ADMIN, username=name, role=role, password=PASSWORD,
                         party=party, site=site)  # fmt: skip
    registry(engine)
    settings = LoopSettings()
    draft_day(engine, MONDAY, TZ, settings, actor="zhou", role="officer", now=at(MONDAY, 20))
    with engine.begin() as conn:
        issue(conn, MONDAY, settings, actor="zhou", role="officer", now=at(MONDAY, 20, 5))
    return engine


def test_every_route_scoped_over_a_district_week(week: Engine) -> None:
    with week.connect() as conn:
        cases = {c.site: c.id for c in list_cases(conn)}
        numbers = {c.site: c.number for c in list_cases(conn)}
    app = create_app(week, TZ)
    gets = [r.path for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ())]
    scopes = {"clin": {"c-01"}, "wang": {"c-01", "c-02"}}
    checked: set[str] = set()
    with served(week, TZ, language="zh_CN") as url:
        for name, scope in scopes.items():
            c = Client(url)
            assert c.sign_in(name) == 303
            for path in gets:
                for site in ("c-01", "c-03"):
                    concrete = (path.replace("{site}", site).replace("{number}", numbers[site])
                                .replace("{case_id}", str(cases[site])))  # fmt: skip
                    if "{" in concrete:
                        continue
                    sep = "&" if "?" in concrete else "?"
                    status, _, body = c.call(f"{concrete}{sep}date={MONDAY}&week=2026-W48")
                    if site not in scope and "{" in path:
                        assert status in (403, 404), (name, concrete, status)
                        continue
                    if status != 200 or path == "/public":
                        continue
                    checked.add(path)
                    for other, clinic in NAMES.items():
                        if other in scope:
                            continue
                        assert not re.search(rf"\b{other}\b", body), (name, concrete, other)
                        assert clinic not in body, (name, concrete, clinic)
    for path in ("/", "/day", "/day.csv", "/week", "/audit", "/audit.csv", "/cases", "/loop",
                 "/clinic/{site}", "/notice/{number}"):  # fmt: skip
        assert path in checked, (path, sorted(checked))


def test_public_page_lists_notices_without_personal_data(week: Engine) -> None:
    with served(week, TZ, language="zh_CN") as url:
        status, _, page = Client(url).call("/public")
    assert status == 200
    assert "2026-0001" in page
    assert "阳光诊所" in page
    assert "等待整改" in page or "整改到位" in page
    for leak in PERSONAL:
        assert leak not in page, leak
