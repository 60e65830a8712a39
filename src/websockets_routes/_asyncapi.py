"""The AsyncAPI 3.0 document of a router: :meth:`Router.asyncapi` builds it here.

Each WebSocket route is a channel with its address, path parameters and ``ws``
binding, described here without msgspec. The message types of its message router
are the channel's messages, each with a ``receive`` operation (and its replies),
and its declared pushes are ``send`` operations; payload schemas go to
``components.schemas``. ``messages/_asyncapi.py`` describes those.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Container
from typing import TYPE_CHECKING, Any

from ._patterns import Mixed, Param, Rest, Segment, Static, params_of

if TYPE_CHECKING:
    from ._router import Router
    from .messages._asyncapi import MessagePart

__all__ = ["build_asyncapi"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def _key(text: str) -> str:
    # Component, channel and operation keys must match ^[a-zA-Z0-9.\-_]+$.
    return _UNSAFE.sub("_", text) or "_"


def _unique(key: str, taken: Container[str]) -> str:
    """``key``, or ``key_2``, ``key_3``... the first that is not in ``taken``."""
    unique, number = key, 1
    while unique in taken:
        number += 1
        unique = f"{key}_{number}"
    return unique


def _address(segments: tuple[Segment, ...]) -> str:
    parts: list[str] = []
    for segment in segments:
        if isinstance(segment, Static):
            parts.append(segment.text)
        elif isinstance(segment, Param | Rest):
            parts.append("{" + segment.name + "}")
        elif isinstance(segment, Mixed):
            parts.append(
                "".join(p if isinstance(p, str) else "{" + p.name + "}" for p in segment.parts)
            )
    return "/" + "/".join(parts)


def _parameters(segments: tuple[Segment, ...]) -> dict[str, Any]:
    return {
        param.name: {"description": f"Path parameter, read by {type(param.converter).__name__}."}
        for param in params_of(segments)
    }


def _bindings(ws_fields: dict[str, Any]) -> dict[str, Any]:
    """A channel's ``bindings``: the WebSocket binding, with ``ws_fields`` added."""
    return {"ws": {"method": "GET", **ws_fields, "bindingVersion": "0.1.0"}}


def build_asyncapi(
    router: Router,
    *,
    title: str,
    version: str,
    description: str | None = None,
    servers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``router``, as a dict ready for JSON or YAML."""
    part: MessagePart | None = None
    # A route can hold a MessageRouter only once websockets_routes.messages is
    # imported: until then, describe the channels alone, without msgspec.
    if sys.modules.get("websockets_routes.messages") is not None:
        from .messages._asyncapi import MessagePart

        part = MessagePart(_key, _unique, _bindings)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for route in router.routes:
        if route.kind != "websocket":
            continue
        channel_key = _unique(_key(route.name), channels)
        channel: dict[str, Any] = {"address": _address(route.segments)}
        parameters = _parameters(route.segments)
        if parameters:
            channel["parameters"] = parameters
        channels[channel_key] = channel
        messages = None if part is None else part.router_of(route)
        if part is not None and messages is not None:
            part.describe(channel, channel_key, messages, operations)
        else:
            channel["bindings"] = _bindings({})
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    document: dict[str, Any] = {"asyncapi": "3.0.0", "info": info}
    if servers:
        document["servers"] = servers
    document["defaultContentType"] = "application/json"
    document["channels"] = channels
    document["operations"] = operations
    components = {} if part is None else part.components()
    if components:
        document["components"] = components
    return document
