"""Message types: validators, tags, handler signatures, and Incoming as middleware sees it."""

from __future__ import annotations

import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, TypeAlias, TypeVar

import msgspec

from .._path import RoutedPath
from ..exceptions import RouteError
from ._errors import MessageError, MessageId

__all__ = [
    "ErrorHookT",
    "HandlerT",
    "Incoming",
    "Middleware",
    "MiddlewareT",
    "Next",
    "UnknownHookT",
    "Validator",
    "own_tag",
    "refuses_id",
    "type_hints",
    "union_members",
    "validator_for",
    "without_id",
]

T_co = TypeVar("T_co", covariant=True)


class Validator(Protocol[T_co]):
    """Turns a decoded object into a message, and describes it as JSON Schema.

    msgspec types (Structs, dataclasses, TypedDicts, attrs classes) and pydantic
    models get one automatically; pass your own with
    ``messages.on("tag", validator=...)`` for anything else.
    """

    def validate(self, data: dict[str, Any]) -> T_co:
        """The message built from ``data``; raise ValueError with a short reason if invalid."""
        ...

    def json_schema(self, ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The payload schema and the named schemas it refers to through ``ref_template``."""
        ...


class _MsgspecValidator:
    """msgspec Structs, dataclasses, TypedDicts and attrs classes."""

    __slots__ = ("type",)

    def __init__(self, tp: type[Any]) -> None:
        self.type = tp

    def validate(self, data: dict[str, Any]) -> Any:
        return msgspec.convert(data, self.type)

    def json_schema(self, ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
        (schema,), components = msgspec.json.schema_components(
            (self.type,), ref_template=ref_template
        )
        return schema, components


class _PydanticValidator:
    """pydantic models (``websockets-routes[pydantic]``), found by duck typing."""

    __slots__ = ("type",)

    def __init__(self, tp: type[Any]) -> None:
        self.type = tp

    def validate(self, data: dict[str, Any]) -> Any:
        try:
            return self.type.model_validate(data)
        except ValueError as exc:
            errors = getattr(exc, "errors", None)
            if errors is None:
                raise
            # pydantic's own text echoes the input; keep the place and the reason.
            first = errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(
                f"{first['msg']} - at `$.{where}`" if where else first["msg"]
            ) from None

    def json_schema(self, ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
        # pydantic names the placeholder {model}; msgspec and we name it {name}.
        template = ref_template.replace("{name}", "{model}")
        schema: dict[str, Any] = self.type.model_json_schema(ref_template=template)
        components: dict[str, Any] = schema.pop("$defs", {})
        name = schema.get("title") or self.type.__name__
        components[name] = schema
        return {"$ref": ref_template.format(name=name)}, components


def _is_pydantic(tp: type[Any]) -> bool:
    return callable(getattr(tp, "model_validate", None)) and callable(
        getattr(tp, "model_json_schema", None)
    )


def validator_for(tp: type[Any]) -> Validator[Any]:
    """The validator of a msgspec type or a pydantic model."""
    if _is_pydantic(tp):
        return _PydanticValidator(tp)
    return _MsgspecValidator(tp)


def refuses_id(tp: Any) -> bool:
    """Whether ``tp`` forbids unknown fields and so would refuse a message's ``id``."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return bool(tp.__struct_config__.forbid_unknown_fields) and (
            "id" not in tp.__struct_encode_fields__
        )
    if isinstance(tp, type) and _is_pydantic(tp):
        if getattr(tp, "model_config", {}).get("extra") != "forbid":
            return False
        fields: dict[str, Any] = getattr(tp, "model_fields", {})
        names = set(fields)
        for field in fields.values():
            names.update(
                alias
                for alias in (
                    getattr(field, "alias", None),
                    getattr(field, "validation_alias", None),
                )
                if isinstance(alias, str)
            )
        return "id" not in names
    return False


def without_id(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without its ``id``, for a type that :func:`refuses_id`."""
    return {key: value for key, value in obj.items() if key != "id"}


def type_hints(obj: Any, what: str) -> dict[str, Any]:
    """The resolved annotations of ``obj``; a RouteError naming ``what`` if they don't resolve."""
    try:
        return typing.get_type_hints(obj)
    except Exception as exc:
        raise RouteError(
            f"cannot resolve the annotations of {what} ({type(exc).__name__}: {exc}); "
            f"define its types at module level"
        ) from None


def own_tag(tp: Any, tag_field: str) -> str | None:
    """The tag a type carries itself: a msgspec Struct tag or a one-value Literal field."""
    if not isinstance(tp, type):
        return None
    if issubclass(tp, msgspec.Struct):
        config = tp.__struct_config__
        if config.tag is not None:
            if config.tag_field != tag_field:
                raise RouteError(
                    f"{tp.__name__} is tagged on {config.tag_field!r} but this message "
                    f"router's tag_field is {tag_field!r}; pass tag_field={config.tag_field!r} "
                    f"to MessageRouter or change the Struct"
                )
            if not isinstance(config.tag, str):
                raise RouteError(f"{tp.__name__}: message tags must be strings")
            return config.tag
    annotation = type_hints(tp, tp.__name__).get(tag_field)
    if typing.get_origin(annotation) is Literal:
        args = typing.get_args(annotation)
        if len(args) == 1 and isinstance(args[0], str):
            return args[0]
    return None


def union_members(annotation: Any) -> list[Any]:
    """The members of a union annotation, nested unions flattened; ``[annotation]`` otherwise."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in union_members(arg)]
    return [annotation]


#: A message handler: ``async def handler(ws, msg, path) -> reply | None``.
HandlerT = TypeVar("HandlerT", bound=Callable[[Any, Any, RoutedPath], Awaitable[object]])

# Next and Middleware are documented in __init__.py, where they are public.
Next: TypeAlias = Callable[[], Awaitable[object]]

Middleware: TypeAlias = Callable[[Any, "Incoming", RoutedPath, Next], Awaitable[object]]
MiddlewareT = TypeVar("MiddlewareT", bound=Middleware)
UnknownHookT = TypeVar(
    "UnknownHookT", bound=Callable[[Any, "Incoming", RoutedPath], Awaitable[object]]
)
ErrorHookT = TypeVar("ErrorHookT", bound=Callable[[Any, MessageError, RoutedPath], Awaitable[None]])


class Incoming:
    """One decoded message, as middleware and the ``on_unknown`` hook see it.

    Attributes:
        tag: The message type (``"chat.send"``).
        message: The decoded message; for an unknown type, the plain decoded dict.
        id: The correlation id the client sent, or None.
        binary: True for a MessagePack (binary) frame, False for JSON (text).
    """

    __slots__ = ("binary", "id", "message", "tag")

    def __init__(self, tag: str, message: Any, id: MessageId | None, binary: bool) -> None:
        self.tag = tag
        self.message = message
        self.id = id
        self.binary = binary

    def __repr__(self) -> str:
        return f"<Incoming {self.tag!r} id={self.id!r}>"
