"""router.asyncapi(): an AsyncAPI 3.0 document, valid against the official JSON Schema."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any, Literal

import jsonschema
import msgspec
import pydantic
import pytest

from websockets_routes import RoutedPath, Router
from websockets_routes.messages import MessageRouter

from .models import ChatSend, RoomHeaders, RoomQuery, chat_router, mixed_router

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/data/asyncapi/asyncapi-3.0.0.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")


def assert_valid(document: dict[str, Any]) -> None:
    """Validate against the AsyncAPI 3.0.0 schema, and check that every $ref resolves."""
    errors = sorted(VALIDATOR.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    json.dumps(document)  # Plain JSON data, nothing else.
    # The schema lets keys it doesn't match through; the specification doesn't.
    keyed = [document.get("channels", {}), document.get("operations", {})]
    keyed += document.get("components", {}).values()
    for mapping in keyed:
        for key in mapping:
            assert KEY.match(key), f"{key!r} is not a valid AsyncAPI key"
    for ref in refs(document):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]


def refs(node: Any) -> list[str]:
    """Every $ref in a document."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_schema_rejects_a_broken_document():
    """The vendored schema really validates: a channel with a non-string address fails."""
    broken = {"asyncapi": "3.0.0", "info": {"title": "t", "version": "1"}}
    broken["channels"] = {"c": {"address": 3}}
    assert list(VALIDATOR.iter_errors(broken))


def test_chat_document_is_valid():
    """The chat router's document validates, with channel, parameters, operations and replies."""
    router, _ = chat_router()
    router.route("/plain/{id:int}")(_plain_handler)
    document = router.asyncapi(title="Chat", version="2.0.0", description="A chat.")
    assert_valid(document)
    assert document["info"] == {"title": "Chat", "version": "2.0.0", "description": "A chat."}
    room = document["channels"]["room"]
    assert room["address"] == "/rooms/{room}"
    assert list(room["parameters"]) == ["room"]
    assert set(room["messages"]) == {
        "error",
        "chat.send",
        "chat.ack",
        "typing",
        "ping",
        "pong",
        "boom",
        "notice",
    }
    assert document["channels"]["_plain_handler"]["address"] == "/plain/{id}"
    operations = document["operations"]
    assert operations["room.chat.send"] == {
        "action": "receive",
        "channel": {"$ref": "#/channels/room"},
        "summary": "Handle 'chat.send' messages.",
        "messages": [{"$ref": "#/channels/room/messages/chat.send"}],
        "reply": {
            "channel": {"$ref": "#/channels/room"},
            "messages": [
                {"$ref": "#/channels/room/messages/chat.ack"},
                {"$ref": "#/channels/room/messages/error"},
            ],
        },
    }
    assert operations["room.push.notice"]["action"] == "send"
    assert operations["room.typing"]["reply"]["messages"] == [
        {"$ref": "#/channels/room/messages/error"}
    ]
    schemas = document["components"]["schemas"]
    assert schemas["ChatSend"]["properties"]["text"] == {"type": "string"}
    # The untagged Ping is described with the tag the router gave it.
    assert schemas["Ping"]["properties"]["type"] == {"enum": ["ping"]}
    assert document["components"]["messages"]["chat.send"]["correlationId"] == {
        "location": "$message.payload#/id"
    }


def test_mixed_payloads_document_is_valid():
    """Dataclass and pydantic payload schemas land in components.schemas and validate."""
    router, _ = mixed_router()
    document = router.asyncapi()
    assert_valid(document)
    schemas = document["components"]["schemas"]
    assert schemas["Move"]["required"] == ["x", "y"]
    assert schemas["Join"]["properties"]["name"]["maxLength"] == 20
    assert document["components"]["messages"]["joined"]["payload"] == {
        "$ref": "#/components/schemas/Joined"
    }


def test_query_and_headers_binding():
    """Declared query and headers types become the ws channel binding."""
    router = Router()
    messages = MessageRouter(query=RoomQuery, headers=RoomHeaders, description="Rooms.")

    @messages.on
    async def send(ws: Any, msg: ChatSend, path: RoutedPath) -> None:
        pass

    router.route("/rooms/{room}", name="room")(messages)
    document = router.asyncapi()
    assert_valid(document)
    channel = document["channels"]["room"]
    assert channel["description"] == "Rooms."
    binding = channel["bindings"]["ws"]
    assert binding["method"] == "GET"
    assert binding["bindingVersion"] == "0.1.0"
    assert binding["query"]["properties"]["token"]["anyOf"] == [
        {"type": "string"},
        {"type": "null"},
    ]
    assert "User-Agent" in binding["headers"]["properties"]


def test_class_view_and_included_routes():
    """A class view's message router attribute is found, under the include prefix and name."""
    messages = MessageRouter()

    @messages.on
    async def send(ws: Any, msg: ChatSend, path: RoutedPath) -> None:
        pass

    inner = Router()

    @inner.route("/rooms/{room}", name="room")
    class Room:
        chat = messages

        async def handle(self, ws: Any, path: RoutedPath) -> None:
            await self.chat(ws, path)

    router = Router()
    router.include(inner, "/v1/{tenant}", namespace="v1")
    document = router.asyncapi()
    assert_valid(document)
    channel = document["channels"]["v1_room"]
    assert channel["address"] == "/v1/{tenant}/rooms/{room}"
    assert set(channel["parameters"]) == {"tenant", "room"}
    assert "v1_room.chat.send" in document["operations"]


def test_custom_tag_field_document_is_valid():
    """With another tag field, the error message is described on that field."""
    router = Router()
    messages = MessageRouter(tag_field="kind")

    @messages.on
    async def hello(ws: Any, msg: Hello, path: RoutedPath) -> None:
        pass

    router.route("/k", name="k")(messages)
    document = router.asyncapi()
    assert_valid(document)
    (error,) = [s for name, s in document["components"]["schemas"].items() if "Error" in name]
    assert error["required"][0] == "kind"


def test_docs_example_document_is_the_rendered_one():
    """The AsyncAPI document shown in docs/messages.md is what its example code generates."""
    page = (ROOT / "docs/messages.md").read_text()
    code = re.search(r"<!-- example -->\n```python\n(.*?)```", page, re.S)
    shown = re.search(r"<!-- asyncapi -->\n```json\n(.*?)```", page, re.S)
    assert code is not None
    assert shown is not None
    namespace: dict[str, Any] = {"__name__": "chat_example"}
    exec(compile(code.group(1), "docs/messages.md", "exec"), namespace)
    document = namespace["router"].asyncapi(title="Chat example", version="1.0.0")
    assert_valid(document)
    assert json.loads(shown.group(1)) == document


def test_types_sharing_a_name_get_their_own_schemas():
    """Payload types with one name (two modules' Send, an untagged Struct under two tags,
    a type called ErrorFrame) each keep their own schema."""
    router = Router()
    rooms, dms = MessageRouter(), MessageRouter()
    rooms.on(RoomSend)(_ignore)
    dms.on(DmSend)(_ignore)
    rooms.on("ping.a")(_ignore_ping)
    rooms.on("ping.b")(_ignore_ping)
    rooms.on(ErrorFrame)(_ignore)
    router.route("/room", name="room")(rooms)
    router.route("/dm", name="dm")(dms)
    document = router.asyncapi()
    assert_valid(document)
    schemas = document["components"]["schemas"]

    def payload(key: str) -> dict[str, Any]:
        ref = document["components"]["messages"][key]["payload"]["$ref"]
        schema: dict[str, Any] = schemas[ref.rsplit("/", 1)[1]]
        return schema

    assert payload("room.send")["properties"]["type"] == {"enum": ["room.send"]}
    assert payload("dm.send")["properties"]["type"] == {"enum": ["dm.send"]}
    assert payload("ping.a")["properties"]["type"] == {"enum": ["ping.a"]}
    assert payload("ping.b")["properties"]["type"] == {"enum": ["ping.b"]}
    assert payload("user.error")["properties"]["type"] == {"enum": ["user.error"]}
    assert payload("error")["properties"]["type"] == {"enum": ["error"]}
    # One type shared by two routes is described once.
    router.route("/room2", name="room2")(rooms)
    assert len(router.asyncapi()["components"]["schemas"]) == len(schemas)


def test_colliding_channel_and_operation_keys_are_told_apart():
    """Channel and operation keys that sanitise to the same text get distinct keys."""
    chat = Router()
    rooms = MessageRouter()
    rooms.on(RoomSend)(_ignore)
    chat.route("/room", name="room")(rooms)
    router = Router()
    router.include(chat, prefix="/chat", namespace="chat")
    router.route("/other", name="chat_room")(_plain_handler)
    pushing = MessageRouter(pushes=[PushX])
    pushing.on(PushDotX)(_ignore)
    router.route("/p", name="p")(pushing)
    document = router.asyncapi()
    assert_valid(document)
    addresses = sorted(channel["address"] for channel in document["channels"].values())
    assert addresses == ["/chat/room", "/other", "/p"]
    actions = sorted(op["action"] for key, op in document["operations"].items() if "push" in key)
    assert actions == ["receive", "send"]


def test_schema_names_are_valid_keys():
    """A pydantic title with spaces names its schema with a valid key, its references too."""
    router = Router()
    messages = MessageRouter()
    messages.on(Titled)(_ignore)
    router.route("/t", name="t")(messages)
    document = router.asyncapi()
    assert_valid(document)
    assert document["components"]["messages"]["titled"]["payload"] == {
        "$ref": "#/components/schemas/Join_a_room"
    }


class Hello(msgspec.Struct, tag="hello", tag_field="kind"):
    """Tagged on "kind"."""


async def _plain_handler(ws: Any, path: RoutedPath) -> None:
    pass


async def _ignore(ws: Any, msg: Any, path: RoutedPath) -> None:
    pass


async def _ignore_ping(ws: Any, msg: Ping, path: RoutedPath) -> None:
    pass


class Ping(msgspec.Struct):
    """Untagged, declared under two tags."""

    n: int


class ErrorFrame(msgspec.Struct, tag="user.error"):
    """Named like the schema of error frames."""


class Titled(pydantic.BaseModel):
    """A pydantic model whose title has spaces."""

    model_config = pydantic.ConfigDict(title="Join a room")

    type: Literal["titled"] = "titled"


class PushX(msgspec.Struct, tag="x"):
    """Pushed: its operation key is p.push.x."""


class PushDotX(msgspec.Struct, tag="push.x"):
    """Received: its operation key would be p.push.x too."""


# Two types named Send, as if from two modules.
RoomSend = msgspec.defstruct("Send", [("text", str)], tag="room.send")
DmSend = msgspec.defstruct("Send", [("to", int)], tag="dm.send")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation must not fetch anything: refuse remote $ref retrieval."""
    import urllib.request

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the AsyncAPI schema tried to fetch a remote $ref")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
