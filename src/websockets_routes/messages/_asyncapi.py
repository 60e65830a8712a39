"""The message part of an AsyncAPI document: messages, operations, replies, schemas."""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import TYPE_CHECKING, Any

from ._dispatch import MessageRouter
from ._errors import ERROR_TAG, ErrorCode
from ._types import Validator, own_tag, validator_for

if TYPE_CHECKING:
    from .._route import Route

__all__ = ["MessagePart"]

_SCHEMAS = "#/components/schemas/{name}"
_ERROR_SCHEMA = "ErrorFrame"
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


def _add(in_channel: dict[str, Any], channel_key: str, key: str) -> dict[str, str]:
    # A message belongs to the channel through its component; operations
    # refer to it through the channel.
    in_channel[key] = {"$ref": f"#/components/messages/{key}"}
    return {"$ref": f"#/channels/{channel_key}/messages/{key}"}


class MessagePart:
    """The messages of one AsyncAPI document, channel by channel, and their components.

    The document's builder passes its helpers for keys and bindings: it imports
    this module only when a message router may exist, so this one can't import it.

    Args:
        key: A valid component, channel or operation key made from any text.
        unique: A key, or the key with a number, that is not among those taken.
        bindings: A channel's ``bindings``, given the fields of its ``ws`` binding.
    """

    def __init__(
        self,
        key: Callable[[str], str],
        unique: Callable[[str, Container[str]], str],
        bindings: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        self._key = key
        self._unique = unique
        self._bindings = bindings
        self.schemas: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}
        # (tag, type) -> component message key, so that a type shared by two
        # routes is described once and two types with one tag don't collide.
        self.message_keys: dict[tuple[str, Any], str] = {}

    @staticmethod
    def router_of(route: Route) -> MessageRouter | None:
        """The message router that handles ``route``: its endpoint, or a class view's attribute."""
        if isinstance(route.endpoint, MessageRouter):
            return route.endpoint
        if route.view_class is not None:
            for cls in route.view_class.__mro__:
                for value in vars(cls).values():
                    if isinstance(value, MessageRouter):
                        return value
        return None

    def describe(
        self,
        channel: dict[str, Any],
        channel_key: str,
        messages: MessageRouter,
        operations: dict[str, Any],
    ) -> None:
        """Complete ``channel`` with the messages of ``messages``; add their operations."""
        if messages.description:
            channel["description"] = messages.description
        binding: dict[str, Any] = {}
        if messages.query is not None:
            binding["query"] = self.inline_schema(validator_for(messages.query))
        if messages.headers is not None:
            binding["headers"] = self.inline_schema(validator_for(messages.headers))
        channel["bindings"] = self._bindings(binding)
        channel_ref = {"$ref": f"#/channels/{channel_key}"}
        in_channel: dict[str, Any] = {}

        error_ref = _add(in_channel, channel_key, self.error_message(messages.tag_field))
        for tag, tp in messages.message_types().items():
            title_ = getattr(tp, "__name__", tag)
            received = _add(
                in_channel, channel_key, self.message(tag, tp, messages.validator(tag), title_)
            )
            replies = [
                _add(
                    in_channel,
                    channel_key,
                    self.message(
                        own_tag(reply, messages.tag_field) or "",
                        reply,
                        validator_for(reply),
                        reply.__name__,
                    ),
                )
                for reply in messages.reply_types(tag)
            ]
            operations[self._unique(f"{channel_key}.{self._key(tag)}", operations)] = {
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
                self.message(tag, push, validator_for(push), push.__name__),
            )
            operations[self._unique(f"{channel_key}.push.{self._key(tag)}", operations)] = {
                "action": "send",
                "channel": channel_ref,
                "summary": f"Push {tag!r} messages.",
                "messages": [ref],
            }
        channel["messages"] = in_channel

    def components(self) -> dict[str, Any]:
        """The document's ``components``: schemas by name, and messages; empty if none."""
        components: dict[str, Any] = {}
        if self.schemas:
            components["schemas"] = dict(sorted(self.schemas.items()))
        if self.messages:
            components["messages"] = self.messages
        return components

    def schema(self, validator: Validator[Any]) -> dict[str, Any]:
        """The payload schema of ``validator``, its named schemas added to the components."""
        schema, components = validator.json_schema(_SCHEMAS)
        return self.add_schemas(schema, components)

    def add_schemas(self, schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
        """Add ``components``, renamed where their names are taken; return ``schema`` to match.

        Two types may share a name (``Send`` of two modules, an untagged Struct
        under two tags): the second is ``Send_2``. Names become valid keys.
        """
        names: dict[str, str] = {}
        for name in components:
            names[name] = self._unique(self._key(name), names.values())
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
                names[name] = self._unique(names[name], taken)
                taken.add(names[name])
        for name, value in renamed.items():
            self.schemas[names[name]] = value
        renamed_schema: dict[str, Any] = _renamed(schema, names)
        return renamed_schema

    def inline_schema(self, validator: Validator[Any]) -> dict[str, Any]:
        """The schema of ``validator`` itself, not a reference to it."""
        # Bindings want a Schema object, not a reference.
        schema = self.schema(validator)
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return dict(self.schemas[ref.rsplit("/", 1)[1]])
        return schema

    def message(self, tag: str, tp: Any, validator: Validator[Any], title: str) -> str:
        """The key of the message component of ``tp`` under ``tag``, added the first time."""
        key = self.message_keys.get((tag, tp))
        if key is not None:
            return key
        key = self._unique(self._key(tag), self.messages)
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
        """The key of the message component of error frames tagged on ``tag_field``."""
        key = self.message_keys.get((ERROR_TAG, tag_field))
        if key is not None:
            return key
        name = _ERROR_SCHEMA if tag_field == "type" else f"{_ERROR_SCHEMA}_{self._key(tag_field)}"
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
        key = self._unique(
            ERROR_TAG if tag_field == "type" else f"{ERROR_TAG}_{self._key(tag_field)}",
            self.messages,
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
