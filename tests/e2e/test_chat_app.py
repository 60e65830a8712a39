"""The chat example's routes, hook and typed messages, through a real server and clients."""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("msgspec", reason="the chat example needs msgspec")

from examples.chat.app import router
from websockets.sync.client import ClientConnection

from websockets_routes.testing import SyncClient, serve_for_test_sync

#: Bound for one message to arrive.
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def client() -> Iterator[SyncClient]:
    """The chat app served in a thread on 127.0.0.1, port 0."""
    with serve_for_test_sync(router) as client:
        yield client


def receive(ws: ClientConnection, *, members: bool = False) -> dict[str, Any]:
    """The next message, decoded from JSON; member lists are skipped unless asked for."""
    for _ in range(100):
        message = json.loads(ws.recv(timeout=TIMEOUT))
        assert isinstance(message, dict)
        if members or message["type"] != "members":
            return message
    raise AssertionError("only member lists")


@contextlib.contextmanager
def join(client: SyncClient, room: str, name: str) -> Iterator[ClientConnection]:
    """Connect to ``room`` as ``name``; yield the connection once welcomed, then close it."""
    with client.connect(f"/rooms/{room}?name={name}", open_timeout=TIMEOUT) as ws:
        welcome = receive(ws)
        assert welcome["type"] == "welcome"
        assert (welcome["room"], welcome["name"]) == (room, name)
        assert isinstance(welcome["worker"], int)
        # Then who is in the room, newcomer included.
        roster = receive(ws, members=True)
        assert roster["type"] == "members"
        assert name in roster["names"]
        yield ws


def get(client: SyncClient, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` over plain HTTP: status, headers and body."""
    connection = http.client.HTTPConnection("127.0.0.1", client.port, timeout=TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("query", ["", "?name=", "?name=a%20b", "?name=" + "x" * 25, "?nom=alice"])
def test_rooms_refuse_handshakes_without_a_valid_name(client: SyncClient, query: str) -> None:
    """The rooms router's hook answers 403 when ``name`` is missing or malformed."""
    response = client.expect_rejection("/rooms/lobby" + query, status=403)
    assert b"?name=" in response.body


def test_a_message_reaches_its_room_only_and_is_acknowledged(client: SyncClient) -> None:
    """chat.send is broadcast to the room, sender included, and acked with the id echoed."""
    with (
        join(client, "kitchen", "alice") as alice,
        join(client, "kitchen", "bob") as bob,
        join(client, "cellar", "carol") as carol,
    ):
        alice.send(json.dumps({"type": "chat.send", "text": "dinner!", "id": 7}))
        posted = {"type": "chat.message", "room": "kitchen", "name": "alice", "text": "dinner!"}
        # The room's history numbers its messages: the offset comes first.
        at_bob = receive(bob)
        assert at_bob == {"offset": at_bob["offset"], **posted}
        assert next(iter(at_bob)) == "offset"
        assert receive(alice) == at_bob
        assert receive(alice) == {"type": "chat.ack", "room": "kitchen", "length": 7, "id": 7}
        # Carol's own message comes first: alice's was never sent to the cellar.
        carol.send(json.dumps({"type": "chat.send", "text": "hello?"}))
        assert receive(carol)["text"] == "hello?"


def test_a_reconnection_with_an_offset_gets_what_it_missed_first(client: SyncClient) -> None:
    """Back with ?offset=, a page gets the messages after it, in order, then the welcome."""
    with join(client, "porch", "alice") as alice:
        with join(client, "porch", "bob") as bob:
            bob.send(json.dumps({"type": "chat.send", "text": "one"}))
            last = receive(bob)["offset"]
            assert receive(alice)["text"] == "one"
        for text in ("two", "three"):
            alice.send(json.dumps({"type": "chat.send", "text": text}))
            assert receive(alice)["text"] == text
            assert receive(alice)["type"] == "chat.ack"
        with client.connect(f"/rooms/porch?name=bob&offset={last}", open_timeout=TIMEOUT) as bob:
            missed = [receive(bob), receive(bob)]
            assert [(m["type"], m["name"], m["text"]) for m in missed] == [
                ("chat.message", "alice", "two"),
                ("chat.message", "alice", "three"),
            ]
            assert receive(bob)["type"] == "welcome"
        # An offset the room never had: told so, then live.
        with client.connect("/rooms/porch?name=bob&offset=nope", open_timeout=TIMEOUT) as bob:
            assert receive(bob) == {"type": "history.expired"}
            assert receive(bob)["type"] == "welcome"


def test_typing_is_pushed_to_the_others_in_the_room(client: SyncClient) -> None:
    """A typing message gets no reply and pushes user.typing to the room, sender excluded."""
    with join(client, "den", "alice") as alice, join(client, "den", "bob") as bob:
        alice.send(json.dumps({"type": "typing"}))
        assert receive(bob) == {"type": "user.typing", "name": "alice"}
        # Alice's next message is the answer to her own chat.send: no user.typing first.
        alice.send(json.dumps({"type": "chat.send", "text": "hi"}))
        assert receive(alice)["type"] == "chat.message"


def test_members_follow_joins_and_leaves(client: SyncClient) -> None:
    """Everyone in a room gets its member list when someone joins or leaves."""

    def roster(ws: ClientConnection, names: list[str]) -> None:
        for _ in range(10):  # Lists sent before the expected one come first.
            message = receive(ws, members=True)
            if message == {"type": "members", "room": "attic", "names": names}:
                return
        raise AssertionError(f"no member list {names}")

    with join(client, "attic", "alice") as alice:
        with join(client, "attic", "bob"):
            roster(alice, ["alice", "bob"])
        roster(alice, ["alice"])


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "chat.send", "text": ""}, "invalid_payload"),
        ({"type": "chat.send", "text": "x" * 501}, "invalid_payload"),
        ({"type": "dance"}, "unknown_type"),
    ],
)
def test_bad_messages_get_an_error_frame_and_the_connection_goes_on(
    client: SyncClient, frame: dict[str, Any], code: str
) -> None:
    """Invalid or unknown messages get an error frame with a stable code; chat goes on."""
    with join(client, "hall", "alice") as alice:
        alice.send(json.dumps({**frame, "id": "x1"}))
        error = receive(alice)
        assert (error["type"], error["code"], error["id"]) == ("error", code, "x1")
        alice.send(json.dumps({"type": "chat.send", "text": "still here"}))
        assert receive(alice)["type"] == "chat.message"


@pytest.mark.parametrize("room", ["Lobby", "a_b", "x" * 33])
def test_room_view_refuses_bad_names_in_the_handshake(client: SyncClient, room: str) -> None:
    """The Room class view answers 404 in the handshake for names it doesn't accept."""
    response = client.expect_rejection(f"/rooms/{room}?name=alice", status=404)
    assert b"no such room" in response.body


def test_user_ids_are_typed(client: SyncClient) -> None:
    """/users/{id:int} gets an int and builds the next URL; a non-int id gets 404."""
    with client.connect("/users/42", open_timeout=TIMEOUT) as ws:
        assert receive(ws) == {"type": "user", "id": 42, "next": "/users/43"}
    client.expect_rejection("/users/alice", status=404)


def test_health_check_and_page_answer_plain_http(client: SyncClient) -> None:
    """/healthz answers ok and / the HTML page, over plain HTTP."""
    assert get(client, "/healthz")[::2] == (200, b"ok\n")
    status, headers, body = get(client, "/?room=lobby&name=alice")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<ul id="messages">' in body


def test_the_asyncapi_document_describes_the_rooms() -> None:
    """The app's AsyncAPI document has the room channel, its messages and the name query."""
    document = router.asyncapi(title="Chat", version="1.0.0")
    room = document["channels"]["room"]
    assert room["address"] == "/rooms/{room}"
    assert set(room["messages"]) == {
        "error",
        "chat.send",
        "chat.ack",
        "typing",
        "welcome",
        "chat.message",
        "user.typing",
        "members",
        "history.expired",
    }
    query = room["bindings"]["ws"]["query"]
    assert query["required"] == ["name"]
    assert set(query["properties"]) == {"name", "offset"}


def test_docs_show_the_apps_asyncapi_document() -> None:
    """docs/chat-example.md renders exactly the AsyncAPI document the app generates."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "chat-example.md").read_text()
    shown = page.split("## The AsyncAPI document", 1)[1].split("```json\n", 1)[1]
    shown = shown.split("\n```", 1)[0]
    assert json.loads(shown) == router.asyncapi(title="Chat example", version="1.0.0")
