"""The delivery-status page over real HTTP on SQLite and PostgreSQL: only those who may manage
deliveries see it, destinations never show their secrets, an officer's retry of a dead letter
needs the form's CSRF token, queues it again and is in the audit trail; in Chinese by default."""

# ruff: noqa: RUF001 - the Chinese texts use full-width punctuation
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine

from central.accounts import users as accounts
from central.audit.trail import entries
from central.delivery import queue
from central.delivery.destinations import check_destination
from central.delivery.message import Message
from central.store.db import open_db
from tests.central.browser import chromium, gone, served
from tests.central.test_accounts import ADMIN, PASSWORD, TZ, Client

SECRET = "SECRETKEY0123456789"


@pytest.fixture
def district(db_url: str) -> Engine:
    engine = open_db(db_url)
    dest = check_destination("wecom", f"https://qyapi.weixin.qq.com/send?key={SECRET}", "zh_CN")
    with engine.begin() as conn:
        for name, role, site in [("olu", "officer", None), ("clin", "clinic", "clinic-a"),
                                 ("vic", "viewer", None)]:  # fmt: skip
            accounts.add(conn, ADMIN, username=name, role=role, password=PASSWORD, site=site)
        for subject, site in [("notice:2026-0001", "clinic-a"), ("summary:2026-12-05:1", None)]:
            queue.enqueue(conn, subject=subject, kind="notice" if site else "summary", dest=dest,
                          message=Message("通报 <b>x</b>", "m", "t"), site=site,
                          notices=["2026-0001"])  # fmt: skip
    claimed = queue.claim(engine, "w", 10)
    for c in claimed:
        queue.failed(
            engine, c, "w", "HTTP 500 Internal Server Error", queue.Policy(), permanent=True
        )
    return engine


@pytest.fixture
def dashboard(district: Engine) -> Iterator[str]:
    with served(district, TZ, language="zh_CN") as url:
        yield url


def test_delivery_page_and_retry(district: Engine, dashboard: str) -> None:
    for name in ("vic", "clin"):
        c = Client(dashboard)
        assert c.sign_in(name) == 303
        assert c.call("/deliveries")[:3:2] == (403, "无权限：delivery.manage\n")
        assert 'href="/deliveries"' not in c.call("/")[2]
    assert Client(dashboard).call("/deliveries")[0] in (303, 401)
    officer = Client(dashboard)
    assert officer.sign_in("olu") == 303
    status, _, body = officer.call("/deliveries?state=dead")
    assert status == 200, body[:300]
    assert "送达情况" in body
    assert '<a href="/deliveries">送达情况</a>' in body  # in the header
    assert "失败\uff08死信\uff09" in body
    assert "wecom qyapi.weixin.qq.com key=…6789" in body
    assert SECRET not in body
    assert "通报 &lt;b&gt;x&lt;/b&gt;" in body  # escaped
    status, _, refused = officer.call("/deliveries?state=nonsense")
    assert status == 400
    assert refused == "状态：nonsense 不在 queued, sending, sent, retry, dead 之中\n"
    status, _, refused = officer.call("/deliveries?state=nonsense&lang=en")
    assert (status, refused) == (
        400,
        "state: nonsense is not one of " + ", ".join(queue.STATES) + "\n",
    )
    pks = [int(p) for p in re.findall(r'action="/deliveries/(\d+)/retry"', body)]
    assert len(pks) == 2
    assert officer.call(f"/deliveries/{pks[0]}/retry", {})[0] == 403  # no CSRF token
    token = officer.csrf("/deliveries")
    status, headers, _ = officer.call(f"/deliveries/{pks[0]}/retry", {"csrf_token": token})
    assert status == 303
    assert headers["location"].endswith(f"retried={pks[0]}")
    status, _, refused = officer.call(f"/deliveries/{pks[0]}/retry", {"csrf_token": token})
    assert (status, refused) == (
        409,
        f"送达任务 {pks[0]} 不是失败（死信）任务：只有这类任务可以重试\n",
    )
    status, _, refused = officer.call("/deliveries/99999/retry", {"csrf_token": token})
    assert (status, refused) == (404, "无此送达任务\n")
    with district.connect() as conn:
        assert queue.counts(conn)["queued"] == 1
        (entry,) = entries(conn, target_kind="delivery")
    assert (entry.actor, entry.role, entry.action) == ("olu", "officer", "delivery.retried")
    assert SECRET not in str(entry.detail)
    status, _, en = officer.call("/deliveries?lang=en")
    assert "Failed (dead letter)" in en
    assert "Queued" in en


@pytest.mark.slow
def test_delivery_page_in_a_phone_sized_browser(
    district: Engine, dashboard: str, tmp_path: Path
) -> None:
    with chromium() as b:
        b.set_window_size(390, 844)
        b.get(dashboard + "/login?next=/deliveries")
        b.find_element(By.NAME, "username").send_keys("olu")
        box = b.find_element(By.NAME, "password")
        box.send_keys(PASSWORD)
        box.submit()
        # The login page's URL holds "/deliveries" already: wait for the page to be replaced.
        WebDriverWait(b, 15).until(gone(box))
        WebDriverWait(b, 15).until(lambda d: "/deliveries" in d.current_url)
        assert b.find_element(By.TAG_NAME, "h1").text == "送达情况"
        width = b.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, width  # nothing cut off on a phone
        b.save_screenshot(str(tmp_path / "deliveries-390.png"))
        buttons = b.find_elements(By.CSS_SELECTOR, "form[action$='/retry'] button")
        assert len(buttons) == 2
        buttons[0].click()
        WebDriverWait(b, 15).until(lambda d: "retried=" in d.current_url)
        assert "已重新排队" in b.find_element(By.TAG_NAME, "body").text
        assert SECRET not in b.page_source
    with district.connect() as conn:
        assert queue.counts(conn)["queued"] == 1
