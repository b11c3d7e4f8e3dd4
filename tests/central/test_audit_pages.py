"""The audit trail on the pages it concerns (issue 22 item 4): the notice page (the notice's and
its cases' entries), the case page (the case's), the clinic's loop page (every entry about the
clinic), labelled in the page's language and scoped by the viewer's clinics. Real database, real
server over HTTP, the scripted district week."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine

from central.loop import cases as case_ops
from central.loop import escalation
from central.loop.cases import list_cases
from tests.central.browser import served
from tests.central.district_week import DAYS, TZ
from tests.central.test_accounts import Client
from tests.central.test_accounts_district import week

__all__ = ["week"]

pytestmark = pytest.mark.slow


def _trail(body: str) -> list[tuple[str, str]]:
    m = re.search(r'<section class="trail" id="audit-trail">(.*?)</section>', body, re.S)
    assert m, body[-2000:]
    found: list[tuple[str, str]] = re.findall(r'data-action="([a-z_.]+)">([^<]*)</li>', m.group(1))
    return found


def test_audit_entries_on_the_notice_case_and_clinic_pages(week: Engine) -> None:
    with week.connect() as conn:
        mine = {c.site: c for c in list_cases(conn)}
    c01, c02 = mine["c-01"], mine["c-02"]
    with week.begin() as conn:
        case_ops.report(conn, c01.id, "口罩已发放", actor="zhou", role="officer")
        case_ops.report(conn, c02.id, "已安排值守", actor="zhou", role="officer")
        escalation.order_closure(conn, "c-02", DAYS[3], "整改", actor="zhou", role="officer")
    with served(week, TZ, language="en") as url:
        officer, clinic = Client(url), Client(url)
        assert officer.sign_in("zhou") == 303
        assert clinic.sign_in("clin") == 303

        status, _, body = officer.call(f"/notice/{c01.number}")
        assert status == 200
        rows = _trail(body)
        actions = [a for a, _ in rows]
        assert actions[0] == "case.reported"  # newest first
        assert "notice.issued" in actions
        assert set(actions) <= {"notice.issued", "case.reported"}
        assert any("rectification reported" in text and "zhou (officer)" in text
                   for a, text in rows if a == "case.reported")  # fmt: skip
        assert any("notice issued" in text for a, text in rows if a == "notice.issued")

        status, _, body = officer.call(f"/case/{c01.id}")
        assert status == 200
        assert [a for a, _ in _trail(body)] == ["case.reported"]

        status, _, body = officer.call("/clinic/c-02/loop")
        assert status == 200
        actions = [a for a, _ in _trail(body)]
        assert {"notice.issued", "case.reported", "escalation.raised", "closure.ordered"} <= set(
            actions
        )
        assert "ordered to close for rectification" in body
        assert c01.number not in re.sub(r".*?id=\"audit-trail\"", "", body, count=1, flags=re.S)

        # In Chinese on a zh_CN page.
        status, _, body = officer.call(f"/case/{c01.id}?lang=zh_CN")
        assert status == 200
        assert "rectification reported" not in body
        assert _trail(body)

        # The clinic user sees their own clinic's trail and nothing of c-02's.
        status, _, body = clinic.call("/clinic/c-01/loop")
        assert status == 200
        assert "case.reported" in [a for a, _ in _trail(body)]
        assert "c-02" not in body
        assert "仁和门诊部" not in body
        for path in ("/clinic/c-02/loop", f"/case/{c02.id}", f"/notice/{c02.number}"):
            status, _, body = clinic.call(path)
            assert status in (403, 404), path
            assert "已安排值守" not in body


def test_the_loop_pages_refuse_in_the_pages_language(week: Engine) -> None:
    """The loop pages' 400/403/404 texts come from the catalogs (issue 21 item 8)."""
    with served(week, TZ, language="zh_CN") as url:
        clinic = Client(url)
        assert clinic.sign_in("clin") == 303
        status, _, body = clinic.call("/clinic/c-02/loop")
        assert (status, body) == (404, "无此诊所\n")
        status, _, body = clinic.call("/clinic/c-02/loop?lang=en")
        assert (status, body) == (404, "no such clinic\n")
        status, _, body = clinic.call("/cases?state=bogus")
        assert status == 400
        assert body.startswith("状态：'bogus' 不在 open, notified")  # noqa: RUF001
        status, _, body = clinic.call("/case/abc")
        assert (status, body) == (400, "case：'abc' 不是数字\n")  # noqa: RUF001
        status, _, body = clinic.call("/case/abc?lang=en")
        assert (status, body) == (400, "case: 'abc' is not a number\n")
        with week.connect() as conn:
            own = next(c.id for c in list_cases(conn, sites=["c-01"]))
        token = clinic.csrf(f"/case/{own}")
        # The loop's own refusals (a case's rules) too.
        status, _, body = clinic.call(f"/case/{own}/report", {"csrf_token": token, "text": " "})
        assert (status, body) == (400, "内容：请说明采取了哪些整改措施\n")  # noqa: RUF001
        status, _, body = clinic.call(
            f"/case/{own}/report?lang=en", {"csrf_token": token, "text": " "}
        )
        assert (status, body) == (400, "text: say what was done to rectify\n")
        form = {"csrf_token": token, "day": "2026-11-30"}
        status, _, body = clinic.call("/closure/1/lift", form)
        assert (status, body) == (403, "无权限：escalation.manage\n")  # noqa: RUF001


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("zh_CN", ("登录", "用户名", "密码", "用户名或密码错误。")),
        ("en", ("Sign in", "User name", "Password", "Wrong user name or password.")),
    ],
)
def test_the_sign_in_page_in_the_installations_language(
    week: Engine, language: str, said: tuple[str, str, str, str]
) -> None:
    """The login template through the catalogs (issue 21 item 8), its refusal too."""
    title, user, password, wrong = said
    with served(week, TZ, language=language) as url:
        c = Client(url)
        status, _, body = c.call("/login")
        assert status == 200
        assert f"<h1>{title}</h1>" in body
        assert f"{user} <input" in body
        assert f"{password} <input" in body
        status, _, body = c.call(
            "/login", {"username": "zhou", "password": "not-the-password", "csrf_token": c.csrf()}
        )
        assert status == 401
        assert wrong in body
