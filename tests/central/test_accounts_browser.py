"""Every role through the real dashboard in a real browser (Debian chromium + selenium): sign in,
see only what the role may, the style sheet applied under the Content-Security-Policy, sign out;
in Simplified Chinese (the district's default) and English."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine

from central.accounts import users as accounts
from central.accounts.roles import Party, Role
from central.audit import trail
from central.registry.clinics import Clinic, Responsible, save
from central.store.db import open_db
from tests.central.browser import chromium, gone, served
from tests.central.test_accounts import ADMIN, PASSWORD, TZ

pytestmark = pytest.mark.slow

PEOPLE: dict[str, tuple[Role, Party | None, str | None]] = {
    "ada": ("admin", None, None),
    "olu": ("officer", None, None),
    "hana": ("party", "health_bureau", None),
    "sam": ("party", "sub_district", None),
    "cai": ("party", "community", None),
    "enf": ("party", "enforcement_bureau", None),
    "clin": ("clinic", None, "clinic-a"),
    "vic": ("viewer", None, None),
}
SEES_B = {"ada", "olu", "vic", "hana"}


@pytest.fixture
def engine(tmp_path: object, db_url: str) -> Engine:
    engine = open_db(db_url)
    with engine.begin() as conn:
        for name, (role, party, site) in PEOPLE.items():
            accounts.add(conn, ADMIN, username=name, role=role, password=PASSWORD,
                         party=party, site=site)  # fmt: skip
        save(conn, Clinic("clinic-a", "Clinic A", parties=tuple(
            Responsible(p, p, username=n) for n, (_, p, _) in PEOPLE.items() if p)))  # fmt: skip
        save(conn, Clinic("clinic-b", "Clinic B", parties=(
            Responsible("health_bureau", "H", username="hana"),)))  # fmt: skip
        for site in ("clinic-a", "clinic-b"):
            trail.record(conn, actor="olu", role="officer", action="notice.issued",
                         target_kind="notice", target_id=f"N-{site}", site=site)  # fmt: skip
    return engine


def sign_in(browser: object, url: str, name: str, password: str = PASSWORD) -> None:
    assert isinstance(browser, WebDriver)
    b = browser
    b.find_element(By.NAME, "username").send_keys(name)
    box = b.find_element(By.NAME, "password")
    box.send_keys(password)
    box.submit()
    # The server has answered once the form's page is gone (the URL alone may not change).
    WebDriverWait(b, 15).until(gone(box))


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_every_role_in_a_real_browser(engine: Engine, language: str) -> None:
    words = {
        "zh_CN": ("登录", "退出登录", "操作记录"),
        "en": ("Sign in", "Sign out", "Audit trail"),
    }
    signin, signout, audit = words[language]
    with served(engine, TZ, language=language) as url, chromium() as browser:
        for name, (role, _party, _site) in PEOPLE.items():
            browser.get(url + "/spotchecks")
            assert browser.find_element(By.TAG_NAME, "h1").text == signin
            sign_in(browser, url, name)
            WebDriverWait(browser, 15).until(lambda b: "/spotchecks" in b.current_url)
            browser.get(url + "/spotchecks")  # a settled page (no navigation in flight)
            header = browser.find_element(By.TAG_NAME, "header")
            colour = header.value_of_css_property("background-color")
            assert colour in ("rgba(31, 59, 87, 1)", "rgb(31, 59, 87)"), colour  # CSS under CSP
            assert (audit in header.text) == (role != "viewer"), (name, header.text)
            browser.get(url + "/audit")
            if role == "viewer":
                refused = {"zh_CN": "您的角色无此权限", "en": "not allowed"}[language]
                assert refused in browser.page_source
            else:
                main = browser.find_element(By.TAG_NAME, "main").text
                assert ("N-clinic-b" in main) == (name in SEES_B), (name, main)
                assert "N-clinic-a" in main, (name, main)
            browser.get(url + "/users")
            assert ("vic" in browser.find_element(By.TAG_NAME, "body").text) == (role == "admin")
            browser.get(url + "/spotchecks")
            browser.find_element(By.XPATH, f"//button[text()='{signout}']").click()
            WebDriverWait(browser, 15).until(lambda b: b.current_url.endswith("/login"))
            browser.get(url + "/")
            assert browser.find_element(By.TAG_NAME, "h1").text == signin


def test_lock_out_in_a_real_browser(engine: Engine) -> None:
    with served(engine, TZ, language="en") as url, chromium() as browser:
        for _ in range(5):
            browser.get(url + "/login")
            sign_in(browser, url, "vic", "not the password at all")
            WebDriverWait(browser, 15).until(lambda b: "Wrong user name" in b.page_source)
        browser.get(url + "/login")
        sign_in(browser, url, "vic")
        WebDriverWait(browser, 15).until(lambda b: "Too many failed" in b.page_source)
        browser.get(url + "/login")
        sign_in(browser, url, "ada")
        WebDriverWait(browser, 15).until(lambda b: b.current_url.endswith("/"))
        browser.get(url + "/users")
        row = browser.find_element(By.XPATH, "//tr[td[text()='vic']]")
        assert "locked out" in row.text
        row.find_element(By.TAG_NAME, "button").click()
        # Other rows carry "Lock" buttons already: wait for the page the POST answers with.
        WebDriverWait(browser, 15).until(gone(row))
        browser.get(url + "/users")
        row = browser.find_element(By.XPATH, "//tr[td[text()='vic']]")
        assert "active" in row.text
