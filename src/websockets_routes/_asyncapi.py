"""The AsyncAPI 3.0 document of a router: :meth:`Router.asyncapi` builds it here.

Each WebSocket route is a channel; the message types of its message router are
the channel's messages, each with a ``receive`` operation (and its replies), and
its declared pushes are ``send`` operations. Payload schemas go to
``components.schemas``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ._patterns import Mixed, Param, Rest, Segment, Static
from .messages._dispatch import MessageRouter
from .messages._errors import ERROR_TAG, ErrorCode
from .messages._types import Validator, own_tag, validator_for

if TYPE_CHECKING:
    from ._router import Route, Router

__all__ = ["build_asyncapi", "message_router_of"]

_SCHEMAS = "#/components/schemas/{name}"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_ERROR_SCHEMA = "ErrorFrame"


def message_router_of(route: Route) -> MessageRouter | None:
    """The message router that handles ``route``: its endpoint, or a class view's attribute."""
    if isinstance(route.endpoint, MessageRouter):
        return route.endpoint
    if route.view_class is not None:
        for cls in route.view_class.__mro__:
            for value in vars(cls).values():
                if isinstance(value, MessageRouter):
                    return value
    return None


def _key(text: str) -> str:
    # Component, channel and operation keys must match ^[a-zA-Z0-9.\-_]+$.
    return _UNSAFE.sub("_", text) or "_"


def _unique(key: str, taken: Any) -> str:
    """``key``, or ``key_2``, ``key_3``... the first that is not in ``taken``."""
    unique, number = key, 1
    while unique in taken:
        number += 1
        unique = f"{key}_{number}"
    return unique


_SCHEMA_REF = _SCHEMAS.format(name="")
# Keywords whose values are data, not schemas: a "$ref" there is no reference.
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "examples", "example"})


def _renamed(node: Any, names: dict[str, str]) -> Any:
    """A copy of the schema ``node`` whose component references follow ``names``."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        copy = {
            key: value if key in _DATA_KEYWORDS else _renamed(value, names)
            for key, value in node.items()
        }
        if isinstance(ref, str) and ref.startswith(_SCHEMA_REF):
            name = ref[len(_SCHEMA_REF) :]
            copy["$ref"] = _SCHEMAS.format(name=names.get(name, name))
        return copy
    if isinstance(node, list):
        return [_renamed(value, names) for value in node]
    return node


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
    found: dict[str, Any] = {}
    for segment in segments:
        params = segment.params if isinstance(segment, Mixed) else (segment,)
        for param in params:
            if isinstance(param, Param | Rest):
                converter = type(param.converter).__name__
                found[param.name] = {"description": f"Path parameter, read by {converter}."}
    return found


def _add(in_channel: dict[str, Any], channel_key: str, key: str) -> dict[str, str]:
    # A message belongs to the channel through its component; operations
    # refer to it through the channel.
    in_channel[key] = {"$ref": f"#/components/messages/{key}"}
    return {"$ref": f"#/channels/{channel_key}/messages/{key}"}


class _Builder:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}
        # (tag, type) -> component message key, so that a type shared by two
        # routes is described once and two types with one tag don't collide.
        self.message_keys: dict[tuple[str, Any], str] = {}

    def schema(self, validator: Validator[Any]) -> dict[str, Any]:
        schema, components = validator.json_schema(_SCHEMAS)
        return self.add_schemas(schema, components)

    def add_schemas(self, schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
        """Add ``components``, renamed where their names are taken; return ``schema`` to match.

        Two types may share a name (``Send`` of two modules, an untagged Struct
        under two tags): the second is ``Send_2``. Names become valid keys.
        """
        names: dict[str, str] = {}
        for name in components:
            names[name] = _unique(_key(name), names.values())
        while True:
            # A component whose references were renamed may differ only then: repeat.
            renamed = {name: _renamed(value, names) for name, value in components.items()}
            clashes = [
                name
                for name, value in renamed.items()
                if self.schemas.get(names[name], value) != value
            ]
            if not clashes:
                break
            taken = {*self.schemas, *names.values()}
            for name in clashes:
                names[name] = _unique(names[name], taken)
                taken.add(names[name])
        for name, value in renamed.items():
            self.schemas[names[name]] = value
        renamed_schema: dict[str, Any] = _renamed(schema, names)
        return renamed_schema

    def inline_schema(self, validator: Validator[Any]) -> dict[str, Any]:
        # Bindings want a Schema object, not a reference.
        schema = self.schema(validator)
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return dict(self.schemas[ref.rsplit("/", 1)[1]])
        return schema

    def message(self, tag: str, tp: Any, validator: Validator[Any], title: str) -> str:
        key = self.message_keys.get((tag, tp))
        if key is not None:
            return key
        key = _unique(_key(tag), self.messages)
        message: dict[str, Any] = {
            "name": tag,
            "title": title,
            "payload": self.schema(validator),
            "correlationId": {"location": "$message.payload#/id"},
        }
        doc = getattr(tp, "__doc__", None)
        if isinstance(tp, type) and doc and doc != getattr(type(tp), "__doc__", None):
            summary = doc.strip().splitlines()[0]
            if summary and not summary.startswith(tp.__name__ + "("):
                message["summary"] = summary
        self.messages[key] = message
        self.message_keys[(tag, tp)] = key
        return key

    def error_message(self, tag_field: str) -> str:
        key = self.message_keys.get((ERROR_TAG, tag_field))
        if key is not None:
            return key
        name = _ERROR_SCHEMA if tag_field == "type" else f"{_ERROR_SCHEMA}_{_key(tag_field)}"
        schema = {
            "title": "Error",
            "type": "object",
            "properties": {
                tag_field: {"enum": [ERROR_TAG]},
                "code": {
                    "type": "string",
                    "description": "A stable code: "
                    + ", ".join(code.value for code in ErrorCode)
                    + ", or one raised by the application.",
                },
                "detail": {"type": "string", "maxLength": 200},
                "id": {"anyOf": [{"type": "string", "maxLength": 128}, {"type": "integer"}]},
            },
            "required": [tag_field, "code", "detail"],
        }
        payload = self.add_schemas({"$ref": _SCHEMAS.format(name=name)}, {name: schema})
        key = _unique(
            ERROR_TAG if tag_field == "type" else f"{ERROR_TAG}_{_key(tag_field)}", self.messages
        )
        self.messages[key] = {
            "name": ERROR_TAG,
            "title": "Error",
            "summary": "Sent instead of a reply when a message is refused or its handler fails.",
            "payload": payload,
            "correlationId": {"location": "$message.payload#/id"},
        }
        self.message_keys[(ERROR_TAG, tag_field)] = key
        return key


def build_asyncapi(
    router: Router,
    *,
    title: str,
    version: str,
    description: str | None = None,
    servers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``router``, as a dict ready for JSON or YAML."""
    builder = _Builder()
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
        messages = message_router_of(route)
        binding: dict[str, Any] = {"method": "GET"}
        if messages is None:
            channel["bindings"] = {"ws": {**binding, "bindingVersion": "0.1.0"}}
            continue
        if messages.description:
            channel["description"] = messages.description
        if messages.query is not None:
            binding["query"] = builder.inline_schema(validator_for(messages.query))
        if messages.headers is not None:
            binding["headers"] = builder.inline_schema(validator_for(messages.headers))
        channel["bindings"] = {"ws": {**binding, "bindingVersion": "0.1.0"}}
        channel_ref = {"$ref": f"#/channels/{channel_key}"}
        in_channel: dict[str, Any] = {}

        error_ref = _add(in_channel, channel_key, builder.error_message(messages.tag_field))
        for tag, tp in messages.message_types().items():
            title_ = getattr(tp, "__name__", tag)
            received = _add(
                in_channel, channel_key, builder.message(tag, tp, messages.validator(tag), title_)
            )
            replies = [
                _add(
                    in_channel,
                    channel_key,
                    builder.message(
                        own_tag(reply, messages.tag_field) or "",
                        reply,
                        validator_for(reply),
                        reply.__name__,
                    ),
                )
                for reply in messages.reply_types(tag)
            ]
            operations[_unique(f"{channel_key}.{_key(tag)}", operations)] = {
                "action": "receive",
                "channel": channel_ref,
                "summary": f"Handle {tag!r} messages.",
                "messages": [received],
                "reply": {"channel": channel_ref, "messages": [*replies, error_ref]},
            }
        for push in messages.pushes:
            tag = own_tag(push, messages.tag_field) or ""
            ref = _add(
                in_channel,
                channel_key,
                builder.message(tag, push, validator_for(push), push.__name__),
            )
            operations[_unique(f"{channel_key}.push.{_key(tag)}", operations)] = {
                "action": "send",
                "channel": channel_ref,
                "summary": f"Push {tag!r} messages.",
                "messages": [ref],
            }
        channel["messages"] = in_channel
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    document: dict[str, Any] = {"asyncapi": "3.0.0", "info": info}
    if servers:
        document["servers"] = servers
    document["defaultContentType"] = "application/json"
    document["channels"] = channels
    document["operations"] = operations
    components: dict[str, Any] = {}
    if builder.schemas:
        components["schemas"] = dict(sorted(builder.schemas.items()))
    if builder.messages:
        components["messages"] = builder.messages
    if components:
        document["components"] = components
    return document
