"""Declaring handlers: what is refused at registration, and the import without msgspec."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import msgspec
import pytest

from websockets_routes import RoutedPath, RouteError, Router
from websockets_routes.messages import MessageRouter

from .models import ChatAck, ChatSend, Join, Move, Ping, Pong


class Other(msgspec.Struct, tag="other", tag_field="kind"):
    """Tagged on another field."""


class Loose(msgspec.Struct):
    """An untagged reply type."""


async def handler_of(msg: Any) -> None:
    """Placeholder."""


def test_decorators_return_the_function_unchanged():
    """on(), middleware, on_unknown and on_error return their argument."""
    messages = MessageRouter()

    async def send(ws: Any, msg: ChatSend, path: RoutedPath) -> ChatAck:
        return ChatAck(room="", length=0)

    async def mw(ws: Any, incoming: Any, path: RoutedPath, call_next: Any) -> object:
        return await call_next()

    async def hook(ws: Any, x: Any, path: RoutedPath) -> None:
        pass

    assert messages.on(send) is send
    assert messages.middleware(mw) is mw
    assert messages.on_unknown(hook) is hook
    assert messages.on_error(hook) is hook
    assert messages.tags == ("chat.send",)
    assert messages.reply_types("chat.send") == (ChatAck,)


def test_message_router_passes_the_servers_handler_check():
    """router.serve() accepts a message router as a handler: its __call__ is a coroutine."""
    router = Router()
    router.route("/m", name="m")(MessageRouter())
    router.check_handlers(asynchronous=True)
    with pytest.raises(TypeError, match="plain function"):
        router.check_handlers(asynchronous=False)


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda m: m.on(lambda ws, msg, path: None), "coroutine function"),
        (lambda m: m.on(handler_of), "three arguments"),
        (lambda m: m.on(_unannotated), "annotate its message parameter"),
        (lambda m: m.on(_untagged), "Loose has no tag"),
        (lambda m: m.on("x")(_join), "differs from Join's own tag 'join'"),
        (lambda m: m.on(_other), "tag_field='kind'"),
        (lambda m: m.on("error")(_ping), "reserved"),
        (lambda m: m.on(_loose_reply), "reply type Loose needs a tag"),
        (lambda m: (m.on("ping")(_ping), m.on("ping")(_ping)), "already goes to"),
        (lambda m: m.middleware(lambda *a: None), "coroutine function"),
        (lambda m: m.on_error(lambda *a: None), "coroutine function"),
    ],
)
def test_registration_errors(declare: Any, message: str):
    """Misdeclared handlers fail at registration with a message that says what to fix."""
    with pytest.raises(RouteError, match=message.replace("(", r"\(").replace(")", r"\)")):
        declare(MessageRouter())


def test_tag_field_id_is_refused():
    """The tag field cannot be "id", which carries the correlation id."""
    with pytest.raises(RouteError, match="tag_field"):
        MessageRouter(tag_field="id")


def test_untagged_push_is_refused():
    """Push types need a tag, since the client tells messages apart by it."""
    with pytest.raises(RouteError, match="push type"):
        MessageRouter(pushes=[Loose])


def test_import_without_msgspec_names_the_extra():
    """Importing the module without msgspec raises an ImportError naming the extra."""
    code = (
        "import sys; sys.modules['msgspec'] = None\n"
        "try:\n"
        "    import websockets_routes.messages\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert "websockets-routes[messages]" in out
    # The core imports without msgspec.
    code = "import sys; sys.modules['msgspec'] = None; import websockets_routes; print('ok')"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert out == "ok\n"


async def _unannotated(ws, msg, path):  # type: ignore[no-untyped-def]
    pass


async def _untagged(ws: Any, msg: Loose, path: RoutedPath) -> None:
    pass


async def _join(ws: Any, msg: Join, path: RoutedPath) -> None:
    pass


async def _other(ws: Any, msg: Other, path: RoutedPath) -> None:
    pass


async def _ping(ws: Any, msg: Ping, path: RoutedPath) -> Pong:
    return Pong(0)


async def _loose_reply(ws: Any, msg: Move, path: RoutedPath) -> Loose:
    return Loose()


def test_encoding_an_unsupported_object_says_what_to_send() -> None:
    """encode() refuses an object msgspec can't encode with a TypeError naming the fix."""
    with pytest.raises(TypeError, match="cannot encode a object as a message: send a msgspec"):
        MessageRouter().encode(object())
