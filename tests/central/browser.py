"""A real headless Chromium driven by selenium (Debian ``chromium`` + ``chromium-driver``), and the
dashboard served by uvicorn in a thread on a free port."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webelement import WebElement
from sqlalchemy import Engine

from central.web.server import create_app
from tests.broker import free_port


@contextmanager
def served(engine: Engine, tz: ZoneInfo, token: str | None = None, **app: Any) -> Iterator[str]:
    """The dashboard on http://127.0.0.1:<free port> while the block runs; yields the base URL.
    ``app``: create_app's keywords (security=, language=)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(engine, tz, token, **app), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1400",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def gone(element: WebElement) -> Callable[[Any], bool]:
    """A wait condition (``WebDriverWait(b, 15).until(gone(box))``): the page holding ``element``
    has been replaced, as after a form was answered. Mid-navigation Chromium reports such a node
    either as stale or as not belonging to the document; selenium's ``staleness_of`` knows only
    the first and lets the second fail the test."""

    def replaced(_driver: Any) -> bool:
        try:
            element.is_enabled()
        except WebDriverException as e:
            if mid_navigation(e):
                return True
            raise
        return False

    return replaced


def mid_navigation(e: WebDriverException) -> bool:
    """Chromium's answers about a node while the page holding it is being replaced."""
    if isinstance(e, (StaleElementReferenceException, NoSuchElementException)):
        return True
    return "does not belong to the document" in str(e) or "No node with given id" in str(e)


def shows(by: str, value: str, text: str) -> Callable[[Any], bool]:
    """A wait condition: the element ``(by, value)`` of the current page contains ``text``; while
    a form's answer replaces the page (the element missing, stale or of the old document) it
    keeps waiting instead of failing."""

    def showing(driver: Any) -> bool:
        try:
            return text in driver.find_element(by, value).text
        except WebDriverException as e:
            if mid_navigation(e):
                return False
            raise

    return showing
