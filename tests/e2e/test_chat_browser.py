"""The chat example in headless Chromium: rooms, refusals explained, scrolling, reconnects.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and
selenium; without them the tests skip and say what to install.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("msgspec", reason="the chat example needs msgspec")
pytest.importorskip("selenium", reason="the browser tests need selenium (pip install selenium)")

from examples.chat.app import NAME_PATTERN, ROOM_PATTERN, router
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from websockets.sync.client import connect

from websockets_routes.asyncio import Server
from websockets_routes.testing import SyncClient, serve_for_test_sync

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Bound for a page to load, connect, or show a message.
WAIT = 10.0

Page = webdriver.Chrome


def _require_browser() -> None:
    missing = [
        (path, package)
        for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver"))
        if not os.access(path, os.X_OK)
    ]
    if missing:
        paths = " and ".join(path for path, _ in missing)
        pytest.skip(f"{paths} missing: apt-get install {' '.join(p for _, p in missing)}")


@pytest.fixture(scope="module")
def chat() -> Iterator[SyncClient]:
    """The chat app served in a thread on 127.0.0.1, port 0."""
    with serve_for_test_sync(router) as client:
        yield client


@pytest.fixture
def base_url(chat: SyncClient) -> str:
    """The http:// base URL of the chat app."""
    return f"http://127.0.0.1:{chat.port}"


@pytest.fixture
def open_page(base_url: str) -> Iterator[Callable[[str], Page]]:
    """Open ``base_url + path``, or a full URL, in a new headless Chromium; all quit at the end."""
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
            driver.get(path if path.startswith("http://") else base_url + path)
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


def stats(page: Page) -> dict[str, Any]:
    """What the page counted: WebSocket attempts, welcomes, and every status it showed."""
    found: dict[str, Any] = page.execute_script("return window.chatStats")
    return found


@pytest.mark.parametrize(
    ("query", "explanation"),
    [
        (
            "room=lobby&name=not%20a%20name!",
            "You can't join as “not a name!”: a name is 1 to 24 letters, digits, “.”, “_” "
            "or “-”. Change ?name= in the address.",
        ),
        (
            "room=Lobby&name=alice",
            "There is no room “Lobby”: room names are 1 to 32 lowercase letters, digits or "
            "“-”. Change ?room= in the address.",
        ),
    ],
)
def test_a_refused_name_or_room_is_explained_without_connecting(
    open_page: Callable[[str], Page], query: str, explanation: str
) -> None:
    """A name or room the server would refuse gets the rule it breaks, and no handshake."""
    page = open_page("/?" + query)
    wait_until(page, lambda p: state(p) == "error", "the page didn't show the error state")
    assert page.find_element(By.ID, "status").text == explanation
    assert not page.find_element(By.ID, "text").is_enabled()
    assert stats(page)["attempts"] == 0
    assert messages(page) == []


def test_the_page_checks_the_rules_of_the_server() -> None:
    """The page's NAME_RULE and ROOM_RULE are app.py's NAME_PATTERN and ROOM_PATTERN."""
    html = (Path(__file__).parents[2] / "examples/chat/static/index.html").read_text()
    rules = dict(re.findall(r"const (NAME_RULE|ROOM_RULE) = /(.*)/;", html))
    assert rules == {"NAME_RULE": NAME_PATTERN, "ROOM_RULE": ROOM_PATTERN}


def test_the_message_list_scrolls_and_the_input_stays_in_view(
    open_page: Callable[[str], Page], chat: SyncClient
) -> None:
    """Forty messages scroll in the list, which follows the newest; the input stays visible."""
    page = open_page("/?room=scroll&name=alice")
    page.set_window_size(800, 600)
    connected(page)
    with connect(chat.url("/rooms/scroll?name=bot"), open_timeout=WAIT) as bot:
        for number in range(40):
            bot.send(json.dumps({"type": "chat.send", "text": f"message {number}"}))
        # The welcome, then each message comes back with its ack: read them all, since
        # websockets < 15 can't close while the messages it holds are unread.
        for _ in range(1 + 2 * 40):
            bot.recv(timeout=WAIT)
        shows(page, ("bot", "message 39"))
    geometry = page.execute_script(
        "const list = document.getElementById('messages');"
        "const box = document.getElementById('text').getBoundingClientRect();"
        "return {scrollTop: list.scrollTop, clientHeight: list.clientHeight,"
        " scrollHeight: list.scrollHeight, inputBottom: box.bottom,"
        " windowHeight: window.innerHeight}"
    )
    assert geometry["scrollHeight"] > geometry["clientHeight"]
    assert geometry["scrollTop"] + geometry["clientHeight"] >= geometry["scrollHeight"] - 2
    assert geometry["inputBottom"] <= geometry["windowHeight"]


def restart(chat: SyncClient) -> None:
    """Close every connection of the chat server with 1012, as a restarting server does."""

    async def close_all(server: Server) -> None:
        await asyncio.gather(*(ws.close(1012, "service restart") for ws in server.connections))

    closing = asyncio.run_coroutine_threadsafe(close_all(chat.server), chat.server.get_loop())
    closing.result(WAIT)


def test_a_restart_1012_reconnects(open_page: Callable[[str], Page], chat: SyncClient) -> None:
    """Closed with 1012 (service restart), the page says so, reconnects and is welcomed again."""
    page = open_page("/?room=restart&name=alice")
    connected(page)
    say(page, "before")
    shows(page, ("alice", "before"))
    restart(chat)
    wait_until(page, lambda p: stats(p)["welcomes"] == 2, "the page didn't reconnect")
    connected(page)
    [restarting] = [s for s in stats(page)["statuses"] if s.startswith("reconnecting:")]
    assert re.fullmatch(
        r"reconnecting: Disconnected: the server is restarting \(code 1012\)\. "
        r"Reconnecting in 0\.\d s…",
        restarting,
    )
    # The messages shown before are still there, and the page chats again.
    say(page, "after")
    shows(page, ("alice", "after"))
    assert messages(page) == [("alice", "before"), ("alice", "after")]


def members_line(page: Page) -> str:
    """The member list the page shows under its status."""
    return str(page.find_element(By.ID, "members").text)


def test_the_page_shows_who_is_in_the_room(open_page: Callable[[str], Page]) -> None:
    """The member list follows joins and leaves."""
    alice = open_page("/?room=porch&name=alice")
    connected(alice)
    wait_until(alice, lambda p: members_line(p) == "In the room: alice", "no member list")
    bob = open_page("/?room=porch&name=bob")
    connected(bob)
    for page in (alice, bob):
        wait_until(page, lambda p: members_line(p) == "In the room: alice, bob", "bob missing")
    bob.quit()
    wait_until(alice, lambda p: members_line(p) == "In the room: alice", "bob still listed")


def test_after_a_restart_the_page_gets_what_it_missed(
    open_page: Callable[[str], Page], chat: SyncClient
) -> None:
    """Reconnecting after 1012, the page asks for the messages after the last it showed."""
    page = open_page("/?room=resume&name=alice")
    connected(page)
    say(page, "before")
    shows(page, ("alice", "before"))
    restart(chat)
    # While the page waits to reconnect (0.4 s at least), someone else posts.
    with connect(chat.url("/rooms/resume?name=bot"), open_timeout=WAIT) as bot:
        bot.send(json.dumps({"type": "chat.send", "text": "while you were away"}))
        while json.loads(bot.recv(timeout=WAIT))["type"] != "chat.ack":
            pass
    assert stats(page)["welcomes"] == 1, "the page came back before the bot posted"
    wait_until(page, lambda p: stats(p)["welcomes"] == 2, "the page didn't reconnect")
    shows(page, ("bot", "while you were away"))
    first, second = stats(page)["urls"]
    assert "offset=" not in first
    assert re.search(r"&offset=\d+$", second), second
    assert messages(page) == [("alice", "before"), ("bot", "while you were away")]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving_on(port: int) -> Iterator[None]:
    """The chat app on 127.0.0.1:``port`` in a thread, until the block ends (close 1001)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()

    async def start() -> Server:
        return await router.serve("127.0.0.1", port)

    async def stop(server: Server) -> None:
        server.close()
        await server.wait_closed()

    try:
        server = asyncio.run_coroutine_threadsafe(start(), loop).result(WAIT)
        try:
            yield
        finally:
            asyncio.run_coroutine_threadsafe(stop(server), loop).result(WAIT)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)
        loop.close()


def test_a_server_going_away_1001_is_retried_until_it_is_back(
    open_page: Callable[[str], Page],
) -> None:
    """After 1001 the page retries with growing delays while the server is down, then rejoins."""
    port = free_port()
    with serving_on(port):
        page = open_page(f"http://127.0.0.1:{port}/?room=deploy&name=alice")
        connected(page)
    wait_until(page, lambda p: stats(p)["attempts"] >= 3, "the page didn't retry")
    with serving_on(port):
        wait_until(page, lambda p: stats(p)["welcomes"] == 2, "the page didn't come back")
        connected(page)
        statuses = [s for s in stats(page)["statuses"] if s.startswith("reconnecting:")]
    assert statuses[0].startswith(
        "reconnecting: Disconnected: the server is going away (code 1001). Reconnecting in 0."
    )
    refused = "reconnecting: Could not connect: the server refused the connection or is down."
    assert statuses[1].startswith(refused + " Reconnecting in ")
    delays = [float(re.findall(r"in (\d+\.\d) s…", s)[0]) for s in statuses]
    # Each delay is about twice the one before (with jitter of ±20%).
    assert all(later > earlier for earlier, later in itertools.pairwise(delays)), statuses
