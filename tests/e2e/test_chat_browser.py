"""The chat example in headless Chromium: rooms keep to themselves, refusals show in the page.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and
selenium; without them the tests skip and say what to install.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("msgspec", reason="the chat example needs msgspec")
pytest.importorskip("selenium", reason="the browser tests need selenium (pip install selenium)")

from examples.chat.app import router
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from websockets_routes.testing import serve_for_test_sync

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Bound for a page to load, connect, or show a message.
WAIT = 10.0

Page = webdriver.Chrome


def _require_browser() -> None:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            pytest.skip(f"{path} is missing: apt-get install {package}")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The chat app served in a thread on 127.0.0.1, port 0; its http:// base URL."""
    with serve_for_test_sync(router) as client:
        yield f"http://127.0.0.1:{client.port}"


@pytest.fixture
def open_page(base_url: str) -> Iterator[Callable[[str], Page]]:
    """Open ``base_url + path`` in a fresh headless Chromium; every browser quits at the end."""
    _require_browser()
    with contextlib.ExitStack() as stack:

        def open_page(path: str) -> Page:
            profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="chromium-"))
            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            for argument in (
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
            ):
                options.add_argument(argument)
            driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
            stack.callback(driver.quit)
            driver.set_page_load_timeout(WAIT)
            driver.set_script_timeout(WAIT)
            driver.get(base_url + path)
            return driver

        yield open_page


def wait_until(page: Page, condition: Callable[[Page], Any], what: str) -> Any:
    """Wait (bounded) until ``condition(page)`` is truthy; fail saying ``what`` didn't happen."""
    return WebDriverWait(page, WAIT).until(condition, message=f"{what} within {WAIT}s")


def state(page: Page) -> str:
    """The connection state the page shows: connecting, connected, error or closed."""
    return str(page.execute_script("return document.getElementById('status').dataset.state"))


def messages(page: Page) -> list[tuple[str, str]]:
    """The chat messages the page lists, as (name, text) pairs, in order."""
    rows: list[list[str]] = page.execute_script(
        "return Array.from(document.querySelectorAll('#messages li.message'),"
        " li => [li.querySelector('.name').textContent, li.querySelector('.text').textContent])"
    )
    return [(name, text) for name, text in rows]


def connected(page: Page) -> None:
    """Wait until the server welcomed the page in its room."""
    wait_until(page, lambda p: state(p) == "connected", "the page didn't connect")


def say(page: Page, text: str) -> None:
    """Type ``text`` in the page's box and send it."""
    box = page.find_element(By.ID, "text")
    box.send_keys(text)
    page.find_element(By.ID, "send").click()


def shows(page: Page, message: tuple[str, str]) -> None:
    """Wait until the page lists ``message``."""
    wait_until(page, lambda p: message in messages(p), f"{message} didn't show")


def test_pages_in_a_room_see_its_messages_and_no_other(open_page: Callable[[str], Page]) -> None:
    """Two pages in "lobby" get each other's messages; a page in "attic" gets none of them."""
    alice = open_page("/?room=lobby&name=alice")
    bob = open_page("/?room=lobby&name=bob")
    carol = open_page("/?room=attic&name=carol")
    for page in (alice, bob, carol):
        connected(page)

    say(alice, "hello lobby")
    shows(bob, ("alice", "hello lobby"))
    shows(alice, ("alice", "hello lobby"))

    say(bob, "hi alice")
    shows(alice, ("bob", "hi alice"))

    # The server handled the lobby's messages before this one: had they been sent
    # to the attic, they would have arrived first.
    say(carol, "anyone up here?")
    shows(carol, ("carol", "anyone up here?"))
    assert messages(carol) == [("carol", "anyone up here?")]
    assert ("carol", "anyone up here?") not in messages(alice) + messages(bob)


def test_a_refused_handshake_shows_as_a_failed_connection(
    open_page: Callable[[str], Page],
) -> None:
    """A page whose handshake the auth hook refuses (403) shows the error state, input off."""
    page = open_page("/?room=lobby&name=" + "not%20a%20name!")
    wait_until(page, lambda p: state(p) == "error", "the page didn't show the error state")
    assert "Could not connect" in page.find_element(By.ID, "status").text
    assert not page.find_element(By.ID, "text").is_enabled()
    assert messages(page) == []
