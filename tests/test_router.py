"""Tests for Router: matching, declaration errors, include, hooks, url_for and resolve."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Response

from websockets_routes import (
    BadRequest,
    Converter,
    IntConverter,
    RoutedPath,
    RouteError,
    Router,
    URLBuildError,
)
from websockets_routes._path import parse_host

UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def handler(ws: Any, path: RoutedPath) -> None:
    """A stand-in handler; these tests never call it."""


def add(router: Router, pattern: str, name: str, **kwargs: Any) -> None:
    """Declare ``pattern`` under ``name`` on ``router``."""
    router.route(pattern, name=name, **kwargs)(handler)


def make(*routes: tuple[str, str], **options: Any) -> Router:
    """A router with ``(pattern, name)`` routes declared in order."""
    router = Router(**options)
    for pattern, name in routes:
        add(router, pattern, name)
    return router


def matched(router: Router, target: str) -> tuple[str, dict[str, Any]] | None:
    """The name and params of the route matching ``target``, or None."""
    path = router.match(target)
    return None if path is None else (path.route.name, path.params)


# Matching priorities.

PRIORITY = make(
    ("/x/{s}", "str"),
    ("/x/{n}.{e}", "mixed"),
    ("/x/{r:[a-z]+}", "regex"),
    ("/x/{f:float}", "float"),
    ("/x/{i:int}", "int"),
    ("/x/{u:uuid}", "uuid"),
    ("/x/{p:path}", "path"),
    ("/x/static", "static"),
)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/x/static", ("static", {})),
        ("/x/12", ("int", {"i": 12})),
        ("/x/1.5", ("float", {"f": 1.5})),
        ("/x/1e3", ("float", {"f": 1000.0})),
        (f"/x/{UID}", ("uuid", {"u": UID})),
        ("/x/abc", ("regex", {"r": "abc"})),
        ("/x/a.b", ("mixed", {"n": "a", "e": "b"})),
        ("/x/ABC", ("str", {"s": "ABC"})),
        ("/x/staticx", ("regex", {"r": "staticx"})),
        ("/x/" + "9" * 20, ("float", {"f": float("9" * 20)})),  # too long for an int
        ("/x/a/b", ("path", {"p": "a/b"})),
        ("/x/a%2Fb", ("str", {"s": "a/b"})),
        ("/x", None),
        ("/x/", None),
        ("/x/a/", None),
        ("/x/a//b", None),
        ("/y/1", None),
    ],
)
def test_match_priorities(target: str, expected: object) -> None:
    """Static beats dynamic; converters are tried uuid, int, float, regex, mixed, str, path."""
    assert matched(PRIORITY, target) == expected


def test_declaration_order_does_not_change_priority() -> None:
    """Routes declared in the opposite order match the same way."""
    reversed_router = make(
        ("/x/static", "static"),
        ("/x/{p:path}", "path"),
        ("/x/{i:int}", "int"),
        ("/x/{s}", "str"),
    )
    assert matched(reversed_router, "/x/static") == ("static", {})
    assert matched(reversed_router, "/x/5") == ("int", {"i": 5})
    assert matched(reversed_router, "/x/y") == ("str", {"s": "y"})
    assert matched(reversed_router, "/x/y/z") == ("path", {"p": "y/z"})


def test_equal_weights_keep_declaration_order() -> None:
    """Among overlapping regexes of equal weight the first declared wins."""
    router = make(("/r/{a:[0-9]+}", "first"), ("/r/{b:\\d+}", "second"), ("/r/{c:\\w+}", "third"))
    assert matched(router, "/r/12") == ("first", {"a": "12"})
    assert matched(router, "/r/1x") == ("third", {"c": "1x"})


def test_inline_regexes_use_ascii_semantics() -> None:
    """\\d in an inline regex means ASCII digits only, so Arabic-Indic digits don't match."""
    router = make(("/r/{b:\\d+}", "digits"))
    assert matched(router, "/r/12") == ("digits", {"b": "12"})
    assert router.match("/r/١٢") is None


def test_custom_converter_weight() -> None:
    """A custom converter is tried by its weight, before str and after regexes."""

    class Upper(Converter[str]):
        def to_python(self, value: str) -> str:
            if not value.isupper():
                raise ValueError("not upper case")
            return value.lower()

    router = Router(converters={"upper": Upper})
    add(router, "/c/{s}", "str")
    add(router, "/c/{u:upper}", "upper")
    add(router, "/c/{r:[A-Z]{2}}", "regex")
    assert matched(router, "/c/AB") == ("regex", {"r": "AB"})
    assert matched(router, "/c/ABC") == ("upper", {"u": "abc"})
    assert matched(router, "/c/abc") == ("str", {"s": "abc"})


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/a/b/c", ("static", {})),
        ("/a/b/d", ("param", {"x": "b"})),
        ("/a/5/e", ("int-e", {"n": 5})),
        ("/a/5/f", ("str-f", {"x": "5"})),
        ("/a/b/g/h", ("rest", {"p": "b/g/h"})),
        ("/a/5/z", ("rest", {"p": "5/z"})),
        ("/a/b", ("rest", {"p": "b"})),
        ("/a/b/c/d", ("rest", {"p": "b/c/d"})),
    ],
)
def test_backtracking(target: str, expected: object) -> None:
    """When a deeper segment fails, matching goes back to the next candidate."""
    router = make(
        ("/a/b/c", "static"),
        ("/a/{x}/d", "param"),
        ("/a/{n:int}/e", "int-e"),
        ("/a/{x}/f", "str-f"),
        ("/a/{p:path}", "rest"),
    )
    assert matched(router, target) == expected


def test_backtracking_discards_values_of_failed_branches() -> None:
    """Values captured on a branch that failed don't leak into the match."""
    router = make(("/a/{n:int}/{m:int}/x", "ints"), ("/a/{s}/{t}/y", "strs"))
    assert matched(router, "/a/1/2/y") == ("strs", {"s": "1", "t": "2"})


def test_mixed_backtracks_on_converter_refusal() -> None:
    """A mixed segment whose converter refuses a value lets the next candidate try."""
    router = make(("/m/{a:int}.json", "int"), ("/m/{name}", "str"))
    assert matched(router, "/m/12.json") == ("int", {"a": 12})
    assert matched(router, "/m/x.json") == ("str", {"name": "x.json"})


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/", ("root", {})),
        ("/a", ("a", {})),
        ("/a/", ("a-slash", {})),
        ("/b/1", ("b", {"n": 1})),
        ("/b/1/", None),
        ("/b/", None),
        ("/c/x/", ("c-slash", {"s": "x"})),
        ("/c/x", None),
        ("/c//", None),
        ("/f/x", ("f", {"p": "x"})),
        ("/f/", None),
        ("/f/x/", None),
        ("/f//x", None),
        ("/f", None),
        ("/a?x=1", ("a", {})),
        ("/a/?x=1", ("a-slash", {})),
    ],
)
def test_empty_segments_and_trailing_slashes(target: str, expected: object) -> None:
    """Empty segments never match a parameter and trailing slashes are significant."""
    router = make(
        ("/", "root"),
        ("/a", "a"),
        ("/a/", "a-slash"),
        ("/b/{n:int}", "b"),
        ("/c/{s}/", "c-slash"),
        ("/f/{p:path}", "f"),
    )
    assert matched(router, target) == expected


def test_unicode_static_route() -> None:
    """A route written with non-ASCII text matches its percent-encoded form."""
    router = make(("/café", "cafe"), ("/a b", "space"))
    assert matched(router, "/caf%C3%A9") == ("cafe", {})
    assert matched(router, "/café") == ("cafe", {})
    assert matched(router, "/a%20b") == ("space", {})
    assert matched(router, "/cafe") is None


def test_encoded_slash_never_splits() -> None:
    """%2F is a '/' inside one segment, so /chat/a%2Fb matches /chat/{room}."""
    router = make(("/chat/{room}", "room"), ("/chat/a/b", "static"))
    assert matched(router, "/chat/a%2Fb") == ("room", {"room": "a/b"})
    assert matched(router, "/chat/a/b") == ("static", {})


@pytest.mark.parametrize(
    "target",
    ["//a", "/a#x", "/a?x#y", "a", "/%zz", "/a/..", "/..%2F..", "/%00", "/%ff"],
)
def test_match_bad_request(target: str) -> None:
    """match() raises BadRequest for a target breaking the decoding rules."""
    router = make(("/a", "a"), ("/{x}", "x"), ("/{p:path}", "p"))
    with pytest.raises(BadRequest):
        router.match(target)


def test_many_routes() -> None:
    """With 10,000 routes, every one of them still matches correctly."""
    router = Router()
    for i in range(2500):
        add(router, f"/s{i}", f"s{i}")
        add(router, f"/d{i}/{{id:int}}", f"d{i}")
        add(router, f"/m{i}/{{a}}.{{b:int}}/x", f"m{i}")
        add(router, f"/p{i}/{{rest:path}}", f"p{i}")
    assert len(router.routes) == 10_000
    for i in (0, 1, 1234, 2499):
        assert matched(router, f"/s{i}") == (f"s{i}", {})
        assert matched(router, f"/d{i}/{i}") == (f"d{i}", {"id": i})
        assert matched(router, f"/m{i}/n.{i}/x") == (f"m{i}", {"a": "n", "b": i})
        assert matched(router, f"/p{i}/a/b") == (f"p{i}", {"rest": "a/b"})
        assert router.url_for(f"d{i}", id=7) == f"/d{i}/7"
    assert matched(router, "/s2500") is None
    assert matched(router, "/d1/x") is None


# Declaration errors.


def test_duplicate_name() -> None:
    """Two routes with one name raise RouteError naming both patterns."""
    router = make(("/a", "same"))
    with pytest.raises(RouteError) as info:
        add(router, "/b", "same")
    assert str(info.value) == (
        "route name 'same' is taken by '/a'; pass name= to one of them ('/b')"
    )


def test_default_name_is_the_handler_name() -> None:
    """A route without name= is known by its handler's or class's __name__."""
    router = Router()

    @router.route("/a")
    async def chat(ws: Any, path: RoutedPath) -> None:
        pass

    @router.route("/b")
    class Room:
        async def handle(self, ws: Any, path: RoutedPath) -> None:
            pass

    assert [route.name for route in router.routes] == ["chat", "Room"]
    assert router.routes[1].view_class is Room
    with pytest.raises(RouteError, match="route name 'chat' is taken by '/a'"):
        router.route("/c")(chat)


def test_default_names_of_partials_and_callable_objects() -> None:
    """A partial is named after the function it wraps, a callable object after its class."""
    router = Router()

    async def room(ws: Any, path: RoutedPath, greeting: str) -> None:
        pass

    class Echo:
        async def __call__(self, ws: Any, path: RoutedPath) -> None:
            pass

    named = Echo()
    named.__name__ = "named_echo"  # type: ignore[attr-defined]
    router.route("/a")(functools.partial(room, greeting="hi"))
    router.route("/b", name="b")(functools.partial(room, greeting="hello"))
    router.route("/c")(Echo())
    router.route("/d")(named)
    assert router.names == ("room", "b", "Echo", "named_echo")
    with pytest.raises(RouteError, match="route name 'room' is taken by '/a'"):
        router.route("/e")(functools.partial(room, greeting="hey"))
    nameless = functools.partial(handler)
    nameless.func.__name__ = ""  # type: ignore[attr-defined]
    try:
        with pytest.raises(RouteError, match="route '/f' needs a name="):
            router.route("/f")(nameless)
    finally:
        nameless.func.__name__ = "handler"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/a", "/a"),
        ("/a/{x}", "/a/{y}"),
        ("/a/{x}", "/a/{y:str}"),
        ("/a/{x:int}", "/a/{y:int}"),
        ("/a/{x:\\d+}", "/a/{y:\\d+}"),
        ("/a/{x}.{y}", "/a/{z}.{w}"),
        ("/a/{x:path}", "/a/{y:path}"),
        ("/{x}/b/{y:int}", "/{z}/b/{w:int}"),
    ],
)
def test_indistinguishable_routes(first: str, second: str) -> None:
    """Two routes that can never be told apart raise RouteError naming both."""
    router = make((first, "first"))
    with pytest.raises(RouteError, match="can never be told apart") as info:
        add(router, second, "second")
    assert repr(first) in str(info.value)
    assert repr(second) in str(info.value)
    assert [route.name for route in router.routes] == ["first"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/a/{x}", "/a/{x:int}"),
        ("/a/{x:int}", "/a/{x:float}"),
        ("/a/{x:\\d+}", "/a/{x:[0-9]+}"),
        ("/a/{x}", "/a/{x}/"),
        ("/a/{x}.{y}", "/a/{x}-{y}"),
        ("/a/{x}", "/a/{x:path}"),
    ],
)
def test_distinguishable_routes(first: str, second: str) -> None:
    """Routes that differ in converters, text or trailing slash may coexist."""
    router = make((first, "first"), (second, "second"))
    assert len(router.routes) == 2


def test_class_view_without_handle() -> None:
    """A class view without handle() is refused, naming the class and route."""
    router = Router()
    with pytest.raises(
        RouteError, match=r"class view Room for route '/r' needs a handle\(self, ws, path\)"
    ):

        @router.route("/r")
        class Room:
            pass

    assert router.routes == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.route("/a")(42), "route '/a' needs a handler function or class, not 42"),
        (lambda r: r.route("/a", name="")(handler), "route '/a': name must be a non-empty str"),
        (lambda r: r.route("/a", name=5)(handler), "route '/a': name must be a non-empty str"),
        (lambda r: r.route("/a", subprotocols="chat"), r"like \['chat'\]"),
        (lambda r: r.route("/a", subprotocols=[]), "must be a non-empty list of names"),
        (lambda r: r.route("/a", subprotocols=[""]), "must be a non-empty list of names"),
        (lambda r: r.route("/a", hooks=[1]), "route '/a': hook 1 is not callable"),
        (lambda r: r.hook(1), "a hook must be callable, not 1"),
        (lambda r: r.http("/h")(str), "HTTP endpoint '/h' needs a function"),
        (lambda r: r.http("/h")("x"), "HTTP endpoint '/h' needs a function"),
        (lambda r: Router(converters={"x": 1}), "converter 'x' must be a Converter"),
        (lambda r: Router(converters={"x": int}), "converter 'x' must be a Converter"),
    ],
)
def test_declaration_errors(call: Any, message: str) -> None:
    """Misconfigured routes, hooks and converters raise RouteError when declared."""
    with pytest.raises(RouteError, match=message):
        call(Router())


def test_route_attributes() -> None:
    """A declared route records its pattern, name, kind, endpoint and subprotocols."""
    router = Router()
    add(router, "/a/{x}", "a", subprotocols=["chat", "superchat"])
    router.http("/healthz")(handler)
    ws_route, http_route = router.routes
    assert (ws_route.pattern, ws_route.name, ws_route.kind) == ("/a/{x}", "a", "websocket")
    assert ws_route.subprotocols == ("chat", "superchat")
    assert ws_route.endpoint is handler
    assert ws_route.view_class is None
    assert (http_route.name, http_route.kind, http_route.subprotocols) == (
        "handler",
        "http",
        None,
    )
    assert repr(ws_route) == "<Route 'a' '/a/{x}'>"


def test_router_converters_option() -> None:
    """Router(converters=...) adds converters by name and may replace built-ins."""
    router = Router(converters={"small": IntConverter(max=9), "int": IntConverter(max=99)})
    add(router, "/s/{n:small}", "small")
    add(router, "/i/{n:int}", "int")
    assert matched(router, "/s/9") == ("small", {"n": 9})
    assert matched(router, "/s/10") is None
    assert matched(router, "/i/99") == ("int", {"n": 99})
    assert matched(router, "/i/100") is None
    # Other routers keep the built-in int converter.
    other = make(("/i/{n:int}", "int"))
    assert matched(other, "/i/100") == ("int", {"n": 100})


# Including routers.


def test_include_prefix_boundaries() -> None:
    """A prefix matches whole segments only: /api never matches /apix."""
    api = make(("/", "index"), ("/items/{id:int}", "item"), ("/{p:path}", "rest"))
    router = Router()
    router.include(api, "/api")
    assert matched(router, "/api/") == ("index", {})
    assert matched(router, "/api/items/3") == ("item", {"id": 3})
    assert matched(router, "/api/x/y") == ("rest", {"p": "x/y"})
    assert matched(router, "/api") is None
    assert matched(router, "/apix") is None
    assert matched(router, "/apix/items/3") is None
    assert matched(router, "/items/3") is None
    assert [route.pattern for route in router.routes] == [
        "/api/",
        "/api/items/{id:int}",
        "/api/{p:path}",
    ]


def test_include_with_prefix_params() -> None:
    """A prefix may capture parameters, merged with the route's."""
    child = make(("/posts/{post:int}", "post"))
    router = Router()
    router.include(child, "/users/{user}")
    assert matched(router, "/users/bob/posts/2") == ("post", {"user": "bob", "post": 2})
    assert router.url_for("post", user="bob", post=2) == "/users/bob/posts/2"


def test_include_without_prefix() -> None:
    """Including with no prefix adds the routes as they are."""
    child = make(("/a", "a"))
    router = make(("/b", "b"))
    router.include(child)
    assert matched(router, "/a") == ("a", {})
    assert router.url_for("a") == "/a"


def test_include_namespaces() -> None:
    """With a namespace, included names become 'namespace:name', nested too."""
    inner = make(("/item/{id:int}", "item"))
    middle = Router()
    middle.include(inner, "/inner", namespace="in")
    outer = Router()
    outer.include(middle, "/mid", namespace="mid")
    outer.include(inner, "/direct")
    assert outer.url_for("mid:in:item", id=1) == "/mid/inner/item/1"
    assert outer.url_for("item", id=1) == "/direct/item/1"
    assert middle.url_for("in:item", id=1) == "/inner/item/1"
    path = outer.match("/mid/inner/item/1")
    assert path is not None
    assert path.route.name == "mid:in:item"
    with pytest.raises(URLBuildError, match="no route named 'in:item'"):
        outer.url_for("in:item", id=1)


def test_get_and_names() -> None:
    """get() finds a route by the name url_for knows; names lists them in declaration order."""
    inner = make(("/item/{id:int}", "item"))
    outer = make(("/", "home"))
    outer.include(inner, "/inner", namespace="in")
    assert outer.names == ("home", "in:item")
    item = outer.get("in:item")
    assert item is not None
    assert item.pattern == "/inner/item/{id:int}"
    assert item.origin is inner.get("item")
    assert outer.get("item") is None
    assert inner.names == ("item",)


def test_repr_names_the_routes() -> None:
    """repr(Router) says how many routes it has and shows the first few patterns."""
    assert repr(Router()) == "<Router 0 routes>"
    assert repr(make(("/a", "a"))) == "<Router 1 route: /a>"
    many = make(*[(f"/r{i}", f"r{i}") for i in range(7)])
    assert repr(many) == "<Router 7 routes: /r0, /r1, /r2, /r3, /r4, ... (2 more)>"

    class App(Router):
        pass

    assert repr(App()) == "<App 0 routes>"


def test_routes_added_after_include() -> None:
    """Routes declared on an included router later show up in every parent."""
    inner = Router()
    middle = Router()
    outer = Router()
    middle.include(inner, "/in", namespace="in")
    outer.include(middle, "/mid")
    add(inner, "/late/{n:int}", "late")
    assert matched(inner, "/late/1") == ("late", {"n": 1})
    assert matched(middle, "/in/late/1") == ("in:late", {"n": 1})
    assert matched(outer, "/mid/in/late/1") == ("in:late", {"n": 1})
    assert outer.url_for("in:late", n=1) == "/mid/in/late/1"


@pytest.mark.parametrize(
    ("prefix", "namespace", "message"),
    [
        ("/api/", None, "must not end with '/'"),
        ("api", None, "must start with '/'"),
        ("/x", "", "namespace '' must be non-empty, without ':'"),
        ("/x", "a:b", "namespace 'a:b' must be non-empty, without ':'"),
        ("/u/{id}", None, "both use the parameter name"),
    ],
)
def test_include_errors(prefix: str, namespace: str | None, message: str) -> None:
    """A bad prefix or namespace, or clashing parameter names, raise RouteError."""
    child = make(("/{id:int}", "item"))
    with pytest.raises(RouteError, match=message):
        Router().include(child, prefix, namespace=namespace)


def test_include_under_a_path_prefix() -> None:
    """A prefix may end in a `path` parameter; the routes under it match what it leaves."""
    child = make(("/raw", "raw"), ("/{name}.txt", "text"))
    parent = Router()
    parent.include(child, "/files/{p:path}")
    assert matched(parent, "/files/a/b/raw") == ("raw", {"p": "a/b"})
    assert matched(parent, "/files/a/b/c.txt") == ("text", {"p": "a/b", "name": "c"})
    assert matched(parent, "/files/raw") is None
    assert parent.url_for("raw", p="a/b") == "/files/a/b/raw"
    with pytest.raises(RouteError, match="both have a 'path' parameter; a pattern may have one"):
        parent.include(make(("/x/{q:path}", "deep")), "/more/{p:path}")
    assert parent.get("deep") is None


def test_include_clashes() -> None:
    """Included names and shapes that clash with the parent's raise RouteError."""
    child = make(("/a", "a"))
    with pytest.raises(RouteError, match="route name 'a' is taken by '/x'"):
        make(("/x", "a")).include(child)
    with pytest.raises(RouteError, match="'/p/a' \\(b\\) and '/p/a' \\(a\\) can never be told"):
        make(("/p/a", "b")).include(child, "/p")


def test_include_cycle() -> None:
    """A router cannot include itself, directly or through other routers."""
    a, b, c = Router(), Router(), Router()
    with pytest.raises(RouteError, match="cannot include itself"):
        a.include(a, "/a")
    b.include(a, "/a", namespace="a")
    c.include(b, "/b", namespace="b")
    with pytest.raises(RouteError, match="cannot include itself, even indirectly"):
        a.include(b, "/b", namespace="b")
    with pytest.raises(RouteError, match="cannot include itself, even indirectly"):
        a.include(c, "/c", namespace="c")
    # Routes still propagate up the chain, once.
    add(a, "/x", "x")
    assert c.url_for("b:a:x") == "/b/a/x"
    assert len(c.routes) == 1


def test_include_twice() -> None:
    """One router may be included twice, under two prefixes and namespaces."""
    child = make(("/r", "r"))
    router = Router()
    router.include(child, "/x", namespace="x")
    router.include(child, "/y", namespace="y")
    add(child, "/late", "late")
    assert router.url_for("x:r") == "/x/r"
    assert router.url_for("y:late") == "/y/late"
    assert matched(router, "/y/r") == ("y:r", {})


# Hooks.


def hook_named(name: str) -> Any:
    def hook(path: RoutedPath, headers: Any) -> None:
        pass

    hook.__name__ = name
    return hook


def names(hooks: tuple[Any, ...]) -> list[str]:
    return [hook.__name__ for hook in hooks]


def test_hooks_order() -> None:
    """Route.hooks lists parent router hooks, included router hooks, then route hooks."""
    child = Router()
    child.hook(hook_named("child1"))
    add(child, "/r", "r", hooks=[hook_named("route1"), hook_named("route2")])
    parent = Router()
    parent.hook(hook_named("parent1"))
    parent.include(child, "/c")
    parent.hook(hook_named("parent2"))
    child.hook(hook_named("child2"))
    add(child, "/late", "late")

    path = parent.match("/c/r")
    assert path is not None
    assert names(path.route.hooks) == [
        "parent1",
        "parent2",
        "child1",
        "child2",
        "route1",
        "route2",
    ]
    assert path.route.runs_user_code
    late = parent.match("/c/late")
    assert late is not None
    assert names(late.route.hooks) == ["parent1", "parent2", "child1", "child2"]
    own = child.match("/r")
    assert own is not None
    assert names(own.route.hooks) == ["child1", "child2", "route1", "route2"]


def test_hooks_through_two_levels() -> None:
    """Hooks added to any router of a chain reach the routes mounted through it."""
    inner, middle, outer = Router(), Router(), Router()
    add(inner, "/r", "r")
    middle.include(inner, "/i")
    outer.include(middle, "/m")
    inner.hook(hook_named("inner"))
    outer.hook(hook_named("outer"))
    middle.hook(hook_named("middle"))
    path = outer.match("/m/i/r")
    assert path is not None
    assert names(path.route.hooks) == ["outer", "middle", "inner"]


def test_runs_user_code() -> None:
    """A hook, an HTTP endpoint or a view process_request makes a route run user code."""
    router = Router()
    add(router, "/plain", "plain")
    router.http("/h")(handler)

    @router.route("/view")
    class View:
        def process_request(self, path: RoutedPath, headers: Any) -> None:
            pass

        async def handle(self, ws: Any, path: RoutedPath) -> None:
            pass

    assert [route.runs_user_code for route in router.routes] == [False, True, True]
    router.hook(hook_named("h"))
    assert [route.runs_user_code for route in router.routes] == [True, True, True]


# Building URLs.


class Hex(Converter[int]):
    regex = "[0-9a-f]+"

    def to_python(self, value: str) -> int:
        return int(value, 16)

    def to_url(self, value: int) -> str:
        return format(value, "x")


URLS = Router(converters={"hex": Hex()})
for _pattern, _name in [
    ("/", "root"),
    ("/s/{v}", "str"),
    ("/s/{v}/", "str_slash"),
    ("/i/{v:int}", "int"),
    ("/f/{v:float}", "float"),
    ("/u/{v:uuid}", "uuid"),
    ("/p/{v:path}", "path"),
    ("/r/{v:[a-z]+-\\d+}", "regex"),
    ("/m/{name}.{ext}", "mixed"),
    ("/n/v{n:int}.json", "mixed_int"),
    ("/h/{v:hex}", "hex"),
    ("/café/{v}", "unicode"),
    ("/two/{a:int}/{b}", "two"),
    ("/mid/{v:path}/raw", "path_middle"),
    ("/page/{v:int(min=1, max=500)}", "page"),
    ("/code/{v:str(length=4)}", "code"),
    ("/pad/{v:int(fixed_digits=3, signed=True)}", "padded"),
    ("/lang/{v:any('en', 'fr')}", "lang"),
]:
    add(URLS, _pattern, _name)


@pytest.mark.parametrize(
    ("name", "params", "expected", "back"),
    [
        ("root", {}, "/", {}),
        ("str", {"v": "abc"}, "/s/abc", None),
        ("str", {"v": "a/b"}, "/s/a%2Fb", None),
        ("str", {"v": "a b?#%"}, "/s/a%20b%3F%23%25", None),
        ("str", {"v": "é"}, "/s/%C3%A9", None),
        ("str", {"v": "a;b=c@d:e"}, "/s/a;b=c@d:e", None),
        ("str", {"v": "..."}, "/s/...", None),
        ("str", {"v": ".a"}, "/s/.a", None),
        ("str", {"v": "a/"}, "/s/a%2F", None),
        ("str_slash", {"v": "x"}, "/s/x/", None),
        ("int", {"v": 0}, "/i/0", None),
        ("int", {"v": 42}, "/i/42", None),
        ("float", {"v": 1.5}, "/f/1.5", None),
        ("float", {"v": 2}, "/f/2.0", {"v": 2.0}),
        ("float", {"v": 1e-05}, "/f/1e-05", None),
        ("float", {"v": 1e16}, "/f/1e+16", None),
        ("uuid", {"v": UID}, f"/u/{UID}", None),
        ("path", {"v": "a"}, "/p/a", None),
        ("path", {"v": "a/b c/d"}, "/p/a/b%20c/d", None),
        ("path", {"v": "a/.b/c."}, "/p/a/.b/c.", None),
        ("regex", {"v": "ab-12"}, "/r/ab-12", None),
        ("mixed", {"name": "a", "ext": "txt"}, "/m/a.txt", None),
        ("mixed", {"name": "a.b", "ext": "txt"}, "/m/a.b.txt", None),
        ("mixed", {"name": ".", "ext": "."}, "/m/...", None),
        ("mixed_int", {"n": 3}, "/n/v3.json", None),
        ("hex", {"v": 255}, "/h/ff", None),
        ("unicode", {"v": "x"}, "/caf%C3%A9/x", None),
        ("two", {"a": 1, "b": "z"}, "/two/1/z", None),
        ("path_middle", {"v": "a/b c"}, "/mid/a/b%20c/raw", None),
        ("path_middle", {"v": "raw/raw"}, "/mid/raw/raw/raw", None),
        ("page", {"v": 500}, "/page/500", None),
        ("code", {"v": "ab/c"}, "/code/ab%2Fc", None),
        ("padded", {"v": -7}, "/pad/-007", None),
        ("padded", {"v": 12}, "/pad/012", None),
        ("lang", {"v": "fr"}, "/lang/fr", None),
    ],
)
def test_url_for(name: str, params: dict[str, Any], expected: str, back: Any) -> None:
    """url_for builds the path with each converter, and the path matches back."""
    url = URLS.url_for(name, **params)
    assert url == expected
    assert matched(URLS, url) == (name, params if back is None else back)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("nope", {}, "no route named 'nope'; known names: code, float, hex, int, lang, mixed"),
        ("two", {"a": 1}, r"route 'two' \(/two/\{a:int\}/\{b\}\) needs parameter\(s\) b"),
        ("two", {}, r"needs parameter\(s\) (a, b|b, a)$"),
        ("int", {"v": 1, "w": 2}, r"route 'int' \(/i/\{v:int\}\) has no parameter\(s\) w"),
        ("root", {"x": 1}, r"has no parameter\(s\) x"),
        ("int", {"v": "1"}, "route 'int': v='1' is refused by IntConverter"),
        ("int", {"v": -1}, "v=-1 is refused by IntConverter"),
        ("int", {"v": 10**19}, "is refused by IntConverter"),
        ("int", {"v": True}, "v=True is refused by IntConverter"),
        ("float", {"v": float("nan")}, "v=nan is refused by FloatConverter"),
        ("float", {"v": float("inf")}, "v=inf is refused by FloatConverter"),
        ("float", {"v": 10**400}, "is refused by FloatConverter.*too large"),
        ("uuid", {"v": str(UID)}, "is refused by UUIDConverter"),
        ("regex", {"v": "AB-1"}, r"v='AB-1' is refused by RegexConverter\('\[a-z\]\+-\\\\d\+'\)"),
        ("str", {"v": ""}, "v='' is refused by StrConverter"),
        ("str", {"v": 5}, "v=5 is refused by StrConverter"),
        ("str", {"v": "."}, "v='.' is or holds a dot segment"),
        ("str", {"v": ".."}, "v='..' is or holds a dot segment"),
        ("str", {"v": "a/.."}, "v='a/..' is or holds a dot segment"),
        ("str", {"v": "../x"}, "v='../x' is or holds a dot segment"),
        ("str", {"v": "a\nb"}, "v='a\\\\nb' gives an empty segment or one with control"),
        ("str", {"v": "\x7f"}, "control characters"),
        ("str", {"v": "\udcff"}, "v='\\\\udcff' has a lone surrogate"),
        ("path", {"v": ""}, "v='' is refused by PathConverter"),
        ("path", {"v": "a//b"}, "v='a//b' has an empty or dot segment"),
        ("path", {"v": "a/"}, "v='a/' has an empty or dot segment"),
        ("path", {"v": "/a"}, "v='/a' has an empty or dot segment"),
        ("path", {"v": "a/../b"}, "v='a/../b' has an empty or dot segment"),
        ("path", {"v": "."}, "v='.' has an empty or dot segment"),
        ("mixed", {"name": "a", "ext": "b.c"}, "give the segment 'a.b.c', which would not"),
        ("mixed", {"name": "", "ext": "c"}, "name='' is refused by StrConverter"),
        ("mixed", {"name": "a/", "ext": "."}, "give the segment 'a/..', which would not"),
        ("mixed_int", {"n": "3"}, "n='3' is refused by IntConverter"),
        ("hex", {"v": "zz"}, "v='zz' is refused by Hex"),
        ("path_middle", {"v": "a//b"}, "v='a//b' has an empty or dot segment"),
        ("page", {"v": 0}, r"v=0 is refused by IntConverter\(min=1, max=500"),
        ("page", {"v": 501}, "v=501 is refused by IntConverter"),
        ("code", {"v": "abc"}, r"v='abc' is refused by StrConverter\(minlength=4, maxlength=4\)"),
        ("padded", {"v": 1000}, "v=1000 is refused by IntConverter"),
        ("lang", {"v": "de"}, r"v='de' is refused by AnyConverter\('en', 'fr'\)"),
    ],
)
def test_url_for_errors(name: str, params: dict[str, Any], message: str) -> None:
    """url_for raises URLBuildError naming the route and the offending parameter."""
    with pytest.raises(URLBuildError, match=message):
        URLS.url_for(name, **params)


def test_url_for_unknown_name_on_empty_router() -> None:
    """url_for on a router without routes says there are none."""
    with pytest.raises(URLBuildError, match="no route named 'a'; known names: none"):
        Router().url_for("a")


# Handler checks.


async def async_handler(ws: Any, path: RoutedPath) -> None:
    pass


async def async_hook(path: RoutedPath, headers: Any) -> None:
    pass


def sync_hook(path: RoutedPath, headers: Any) -> None:
    pass


def test_check_handlers_asynchronous() -> None:
    """On an asyncio server, a plain function handler or handle() is refused by route."""
    router = Router()
    router.route("/ok", name="ok", hooks=[sync_hook, async_hook])(async_handler)
    router.http("/h")(sync_hook)
    router.check_handlers(asynchronous=True)
    add(router, "/bad", "bad")
    with pytest.raises(
        TypeError, match=r"route 'bad' \(/bad\): the handler must be a coroutine function"
    ):
        router.check_handlers(asynchronous=True)


def test_check_handlers_asynchronous_view() -> None:
    """On an asyncio server, a class view with a plain handle() is refused by route."""
    router = Router()

    @router.route("/v")
    class View:
        def handle(self, ws: Any, path: RoutedPath) -> None:
            pass

    with pytest.raises(TypeError, match=r"route 'View' \(/v\): the handle\(\) must be a corou"):
        router.check_handlers(asynchronous=True)


@pytest.mark.parametrize(
    ("declare", "what"),
    [
        (lambda r: r.route("/a", name="a")(async_handler), "handler"),
        (lambda r: r.route("/a", name="a", hooks=[async_hook])(handler), "hook"),
        (lambda r: (r.hook(async_hook), r.route("/a", name="a")(handler)), "hook"),
        (lambda r: r.http("/a", name="a")(async_hook), "endpoint"),
    ],
)
def test_check_handlers_synchronous(declare: Any, what: str) -> None:
    """On a threaded server, coroutine handlers, hooks and endpoints are refused by route."""
    router = Router()
    declare(router)
    with pytest.raises(TypeError, match=rf"route 'a' \(/a\): the {what} must be a plain function"):
        router.check_handlers(asynchronous=False)


def test_check_handlers_synchronous_view() -> None:
    """On a threaded server, a view's async handle() or process_request() is refused."""
    router = Router()

    @router.route("/v")
    class View:
        async def process_request(self, path: RoutedPath, headers: Any) -> None:
            pass

        def handle(self, ws: Any, path: RoutedPath) -> None:
            pass

    with pytest.raises(TypeError, match=r"route 'View' \(/v\): the process_request\(\) must"):
        router.check_handlers(asynchronous=False)


def test_check_handlers_synchronous_ok() -> None:
    """On a threaded server, plain functions everywhere pass the check."""
    router = Router()
    router.hook(sync_hook)
    router.route("/a", name="a", hooks=[sync_hook])(handler)
    router.http("/h")(sync_hook)
    router.check_handlers(asynchronous=False)


# Resolving handshakes.


def test_resolve_match() -> None:
    """resolve() returns the RoutedPath when a route matches."""
    router = make(("/a/{n:int}", "a"))
    path = router.resolve("/a/1?x")
    assert isinstance(path, RoutedPath)
    assert path == "/a/1?x"
    assert path.params == {"n": 1}


@pytest.mark.parametrize(
    ("target", "status", "body"),
    [
        ("/nope", 404, b"Not Found\n"),
        ("/a/", 404, b"Not Found\n"),
        ("//a", 400, b"Bad Request: the request target must be a path starting with a single /\n"),
        ("/a/%zz", 400, b"Bad Request: the path contains a malformed percent-escape\n"),
        ("/a/..", 400, b"Bad Request: the path contains a dot segment\n"),
    ],
)
def test_resolve_rejections(target: str, status: int, body: bytes) -> None:
    """resolve() answers 404 for unknown paths and 400 for bad targets."""
    router = make(("/a", "a"))
    response = router.resolve(target)
    assert isinstance(response, Response)
    assert response.status_code == status
    assert response.body == body
    assert response.headers["Content-Length"] == str(len(body))


REDIRECTS = make(("/a", "a"), ("/b/", "b"), ("/c/{n:int}", "c"), redirect_slashes=True)


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/a/", "/a"),
        ("/a/?x=1&y", "/a?x=1&y"),
        ("/b", "/b/"),
        ("/b?q=%2F", "/b/?q=%2F"),
        ("/c/5/", "/c/5"),
        ("/c/%35/", "/c/%35"),  # built from the target as sent
        ("/", None),
        ("/?x=1", None),
        ("/a//", None),
        ("/c/x/", None),
        ("/z/", None),
    ],
)
def test_redirect_slashes(target: str, location: str | None) -> None:
    """With redirect_slashes, a path missing only by its trailing slash gets a 308."""
    response = REDIRECTS.resolve(target)
    assert isinstance(response, Response)
    if location is None:
        assert response.status_code == 404
        assert "Location" not in response.headers
    else:
        assert response.status_code == 308
        assert response.headers["Location"] == location


def test_redirect_slashes_root() -> None:
    """'/' is never redirected, and '/' itself still matches when routed."""
    router = make(("/a", "a"), redirect_slashes=True)
    response = router.resolve("/")
    assert isinstance(response, Response)
    assert response.status_code == 404
    add(router, "/", "root")
    assert isinstance(router.resolve("/"), RoutedPath)


def test_redirect_slashes_off() -> None:
    """Without redirect_slashes, or outside a handshake, no redirect is made."""
    response = make(("/a", "a")).resolve("/a/")
    assert isinstance(response, Response)
    assert response.status_code == 404
    response = REDIRECTS.resolve("/a/", handshake=False)
    assert isinstance(response, Response)
    assert response.status_code == 404


LENIENT = make(
    ("/a", "a"),
    ("/b/", "b"),
    ("/c/{n:int}", "c"),
    ("/d/{p:path}", "d"),
    ("/e", "e"),
    ("/e/", "e_slash"),
    strict_slashes=False,
)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/a", ("a", {})),
        ("/a/", ("a", {})),
        ("/a/?x=1", ("a", {})),
        ("/b/", ("b", {})),
        ("/b", ("b", {})),
        ("/c/5/", ("c", {"n": 5})),
        ("/c/%35/", ("c", {"n": 5})),
        ("/d/x/y/", ("d", {"p": "x/y"})),
        # An exact match always wins.
        ("/e", ("e", {})),
        ("/e/", ("e_slash", {})),
        # One slash only, and never for "/".
        ("/a//", None),
        ("/", None),
        ("/c/x/", None),
        ("/z/", None),
    ],
)
def test_strict_slashes_off(target: str, expected: object) -> None:
    """With strict_slashes=False, a path missing only by its trailing slash still matches."""
    assert matched(LENIENT, target) == expected
    result = LENIENT.resolve(target)
    if expected is None:
        assert isinstance(result, Response)
        assert result.status_code == 404
    else:
        assert isinstance(result, RoutedPath)
        assert result == target


def test_strict_slashes_off_excludes_redirect_slashes() -> None:
    """strict_slashes=False and redirect_slashes=True together are refused: choose one."""
    with pytest.raises(RouteError, match="choose one"):
        Router(redirect_slashes=True, strict_slashes=False)


def test_not_found_and_bad_request_overridable() -> None:
    """Subclasses customize rejections by overriding not_found() and bad_request()."""

    class MyRouter(Router):
        def not_found(self, target: str) -> Response:
            return Response(410, "Gone", Headers(), target.encode())

        def bad_request(self, error: BadRequest) -> Response:
            return Response(418, "Teapot", Headers(), str(error).encode())

    router = MyRouter()
    gone = router.resolve("/x")
    assert isinstance(gone, Response)
    assert (gone.status_code, gone.body) == (410, b"/x")
    teapot = router.resolve("/%zz")
    assert isinstance(teapot, Response)
    assert (teapot.status_code, teapot.body) == (
        418,
        b"the path contains a malformed percent-escape",
    )


def test_failed_include_changes_nothing() -> None:
    """An include refused for a clash leaves both routers as they were."""
    root = make(("/a", "a"))
    other = make(("/b", "b"), ("/a", "a2"))
    with pytest.raises(RouteError, match="can never be told apart"):
        root.include(other)
    assert [route.name for route in root.routes] == ["a"]
    assert root.match("/b") is None
    add(other, "/c", "c")
    assert root.match("/c") is None


def test_route_refused_by_an_includer_is_not_declared() -> None:
    """A route whose name clashes in a router including it is refused everywhere."""
    root = make(("/taken", "taken"))
    child = Router()
    root.include(child, prefix="/child")
    with pytest.raises(RouteError, match="route name 'taken' is taken"):
        add(child, "/free", "taken")
    assert child.routes == []
    assert root.match("/child/free") is None


def test_redirect_escapes_raw_bytes_of_the_target() -> None:
    """Raw bytes (surrogate-escaped by websockets 14 and the legacy API) are percent-encoded."""
    router = make(("/a", "a"), redirect_slashes=True)
    response = router.resolve("/a/?q=\udcff")
    assert isinstance(response, Response)
    assert response.status_code == 308
    assert response.headers["Location"] == "/a?q=%FF"


# Host routing.


def hosted() -> Router:
    """A router with routes by tenant, by exact host, on any host, and an included API."""
    router = Router()
    add(router, "/rooms/{room}", "tenant_room", host="{tenant}.example.com")
    add(router, "/rooms/{room}", "admin_room", host="admin.example.com")
    add(router, "/rooms/{room}", "any_room")
    add(router, "/only/{id:int}", "numbered", host="{n:int}.example.com")
    add(router, "/only/{id:int}", "region", host="{region}-eu.example.com")
    add(router, "/ip", "loopback", host="[::1]")
    api = make(("/status", "status"), ("/items/{item:int}", "item"))
    router.include(api, "/api", namespace="api", host="{region}.api.example.com")
    return router


HOSTED = hosted()


@pytest.mark.parametrize(
    ("target", "host", "expected"),
    [
        ("/rooms/a", "acme.example.com", ("tenant_room", {"tenant": "acme", "room": "a"})),
        ("/rooms/a", "ACME.Example.com:8443", ("tenant_room", {"tenant": "acme", "room": "a"})),
        ("/rooms/a", "acme.example.com.", ("tenant_room", {"tenant": "acme", "room": "a"})),
        # An exact host goes first, whatever the declaration order.
        ("/rooms/a", "admin.example.com", ("admin_room", {"room": "a"})),
        # A parameter takes one label; other hosts fall back to routes on any host.
        ("/rooms/a", "a.b.example.com", ("any_room", {"room": "a"})),
        ("/rooms/a", "example.com", ("any_room", {"room": "a"})),
        ("/rooms/a", "localhost:8765", ("any_room", {"room": "a"})),
        ("/rooms/a", None, ("any_room", {"room": "a"})),
        # Parameters by converter weight: int before a mixed label.
        ("/only/1", "7.example.com", ("numbered", {"n": 7, "id": 1})),
        ("/only/1", "west-eu.example.com", ("region", {"region": "west", "id": 1})),
        ("/only/1", "x.example.com", None),
        ("/only/1", None, None),
        ("/ip", "[::1]:80", ("loopback", {})),
        ("/ip", "[0::1]", ("loopback", {})),
        ("/ip", "127.0.0.1", None),
        # Included on a host pattern.
        ("/api/status", "eu.api.example.com", ("api:status", {"region": "eu"})),
        ("/api/items/3", "us.api.example.com", ("api:item", {"region": "us", "item": 3})),
        ("/api/status", "api.example.com", None),
        ("/api/status", None, None),
    ],
)
def test_match_by_host(target: str, host: str | None, expected: object) -> None:
    """Routes with a host pattern match by Host first; host parameters join path.params."""
    found = HOSTED.match(target, host=host)
    assert (None if found is None else (found.route.name, found.params)) == expected
    if found is not None and host is not None:
        assert found.host == parse_host(host)[0]


@pytest.mark.parametrize("host", ["", "a b", "a..b", "a/b", "x:y", "[::1", "\u212a"])
def test_match_refuses_a_bad_host(host: str) -> None:
    """A router with host patterns refuses a malformed Host as a bad request."""
    with pytest.raises(BadRequest, match="the Host header is not a host name"):
        HOSTED.match("/rooms/a", host=host)
    response = HOSTED.resolve("/rooms/a", host=host)
    assert isinstance(response, Response)
    assert response.status_code == 400


def test_router_without_host_patterns_ignores_host() -> None:
    """A router without host patterns doesn't route by host, nor check it."""
    router = make(("/rooms/{room}", "room"))
    assert not router.host_routing
    found = router.match("/rooms/a", host="not a host")
    assert found is not None
    assert found.params == {"room": "a"}
    assert found.host is None
    assert HOSTED.host_routing


def test_host_routing_with_strict_slashes_off() -> None:
    """strict_slashes=False applies to routes with host patterns too; exact paths first."""
    router = Router(strict_slashes=False)
    add(router, "/a/", "hosted", host="{t}.example.com")
    add(router, "/a", "anywhere")
    assert matched_on(router, "/a/", "x.example.com") == ("hosted", {"t": "x"})
    assert matched_on(router, "/a", "x.example.com") == ("anywhere", {})
    assert matched_on(router, "/a/", "other.org") == ("anywhere", {})
    assert matched_on(router, "/", "x.example.com") is None


def test_host_redirect_slashes() -> None:
    """With redirect_slashes, the redirect is decided on the same host."""
    router = Router(redirect_slashes=True)
    add(router, "/a/", "hosted", host="{t}.example.com")
    response = router.resolve("/a", host="x.example.com")
    assert isinstance(response, Response)
    assert (response.status_code, response.headers["Location"]) == (308, "/a/")
    response = router.resolve("/a", host="example.com")
    assert isinstance(response, Response)
    assert response.status_code == 404


def matched_on(router: Router, target: str, host: str) -> tuple[str, dict[str, Any]] | None:
    """The name and params of the route matching ``target`` on ``host``, or None."""
    path = router.match(target, host=host)
    return None if path is None else (path.route.name, path.params)


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (
            lambda r: add(r, "/a/{t}", "a", host="{t}.example.com"),
            r"route '/a/\{t\}' and its host pattern '\{t\}.example.com' both use the "
            r"parameter name\(s\) t",
        ),
        (lambda r: add(r, "/a", "a", host="a:80"), "contains ':'"),
        (lambda r: add(r, "/a", "a", host="{p:path}.x"), "a 'path' parameter can't be"),
        (
            lambda r: r.include(make(("/{t}", "t")), "/x", host="{t}.example.com"),
            r"host pattern '\{t\}.example.com' and route '/x/\{t\}' both use",
        ),
        (
            lambda r: r.include(make(("/a", "a")), "/x/{t}", host="{t}.example.com"),
            "both use the parameter name",
        ),
        (
            lambda r: r.include(HOSTED, "/x", host="other.example.com"),
            r"has the host pattern '\{tenant\}.example.com', so it can't be included with "
            r"the host pattern 'other.example.com'",
        ),
        (lambda r: r.include(make(("/a", "a")), "/x", host=""), "has an empty label"),
    ],
)
def test_host_declaration_errors(declare: Any, message: str) -> None:
    """Bad host patterns and parameter names shared by host and path fail at declaration."""
    router = Router()
    with pytest.raises(RouteError, match=message):
        declare(router)
    assert router.routes == []
    assert not router.host_routing


def test_host_shapes() -> None:
    """The same path on two host patterns are two routes; on the same one, they clash."""
    router = Router()
    add(router, "/a", "one", host="{t}.example.com")
    add(router, "/a", "two", host="{t}.example.org")
    add(router, "/a", "three")
    with pytest.raises(RouteError, match="can never be told apart"):
        add(router, "/a", "four", host="{u}.example.com")
    with pytest.raises(RouteError, match="can never be told apart"):
        add(router, "/a", "five", host="{t}.EXAMPLE.org")


def test_included_host_routes_reach_every_includer() -> None:
    """Host routes of an included router, and those added later, show up in every parent."""
    inner = make(("/a", "a"))
    middle = Router()
    middle.include(inner, "/in", host="{t}.example.com")
    outer = Router()
    outer.include(middle, "/mid")
    add(inner, "/late", "late")
    assert matched_on(outer, "/mid/in/late", "x.example.com") == ("late", {"t": "x"})
    assert outer.match("/mid/in/late") is None
    assert outer.host_routing
    assert outer.url_for("late", t="x") == "/mid/in/late"


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("tenant_room", {"tenant": "acme", "room": "a b"}, "wss://acme.example.com/rooms/a%20b"),
        ("admin_room", {"room": "x"}, "wss://admin.example.com/rooms/x"),
        ("numbered", {"n": 7, "id": 1}, "wss://7.example.com/only/1"),
        ("region", {"region": "west", "id": 1}, "wss://west-eu.example.com/only/1"),
        ("loopback", {}, "wss://[::1]/ip"),
        ("api:item", {"region": "eu", "item": 3}, "wss://eu.api.example.com/api/items/3"),
    ],
)
def test_url_path_for_builds_the_host(name: str, params: dict[str, Any], expected: str) -> None:
    """url_path_for fills the host pattern in; the absolute URL matches back to the route."""
    url = HOSTED.url_path_for(name, **params)
    assert url.absolute() == expected
    assert HOSTED.url_for(name, **params) == url
    assert type(HOSTED.url_for(name, **params)) is str
    assert matched_on(HOSTED, url, url.host or "") == (name, params)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("tenant_room", {"room": "a"}, r"\(/rooms/\{room\} on \{tenant\}.example.com\) needs "),
        ("tenant_room", {"tenant": "a", "room": "a", "x": 1}, r"has no parameter\(s\) x"),
        ("tenant_room", {"tenant": "A", "room": "a"}, "give 'A.example.com', which is not a"),
        ("tenant_room", {"tenant": "a.b", "room": "a"}, "give 'a.b.example.com'"),
        ("tenant_room", {"tenant": "a b", "room": "a"}, "give 'a%20b.example.com'"),
        ("tenant_room", {"tenant": "-a", "room": "a"}, "give '-a.example.com'"),
        ("tenant_room", {"tenant": "..", "room": "a"}, "is or holds a dot segment"),
        ("numbered", {"n": -1, "id": 1}, "n=-1 is refused by IntConverter"),
    ],
)
def test_url_path_for_host_errors(name: str, params: dict[str, Any], message: str) -> None:
    """Host parameters are needed, and must give a host that matches the pattern back."""
    with pytest.raises(URLBuildError, match=message):
        HOSTED.url_path_for(name, **params)


def test_url_path_for_without_host_pattern() -> None:
    """A route without a host pattern gets its absolute URL from the host given."""
    url = URLS.url_path_for("two", a=1, b="z")
    assert (url, url.host) == ("/two/1/z", None)
    assert url.absolute("ws", host="localhost", port=8765) == "ws://localhost:8765/two/1/z"


# HTTP endpoints: methods, and a WebSocket route on the same pattern.


@pytest.mark.parametrize(
    ("methods", "expected"),
    [
        (None, ("GET", "HEAD")),
        (["GET"], ("GET", "HEAD")),
        (["post"], ("POST",)),
        (["GET", "POST"], ("GET", "HEAD", "POST")),
        (("POST", "GET", "HEAD", "GET"), ("POST", "GET", "HEAD")),
        (["PROPFIND", "M-SEARCH"], ("PROPFIND", "M-SEARCH")),
        ("GET", "methods must be a list of names, like \\['GET'\\]"),
        ([], "methods must name at least one method"),
        (["GET", ""], "method '' is not an HTTP method name"),
        (["GE T"], "method 'GE T' is not an HTTP method name"),
        ([1], "method 1 is not an HTTP method name"),
    ],
)
def test_http_methods(methods: Any, expected: Any) -> None:
    """HTTP endpoints answer GET and HEAD by default, HEAD with GET, or the methods given."""
    router = Router()
    if isinstance(expected, str):
        with pytest.raises(RouteError, match=expected):
            router.http("/x", methods=methods)
        return
    router.http("/x", methods=methods)(handler)
    assert router.routes[0].methods == expected


def test_http_endpoint_and_websocket_route_share_a_pattern() -> None:
    """An HTTP endpoint and a WebSocket route on one pattern are twins, in either order."""
    router = Router()
    add(router, "/chat/{room}", "chat")
    router.http("/chat/{room}", name="chat_page")(handler)
    router.http("/page/{p}", name="page")(handler)
    add(router, "/page/{p}", "page_socket")
    for socket_name, page_name, target, params in [
        ("chat", "chat_page", "/chat/a", {"room": "a"}),
        ("page_socket", "page", "/page/a", {"p": "a"}),
    ]:
        socket, page = router.get(socket_name), router.get(page_name)
        assert socket is not None
        assert page is not None
        assert (socket.twin, page.twin) == (page, socket)
        # match() gives the WebSocket route; the handshake decision picks between them.
        assert matched(router, target) == (socket_name, params)
    with pytest.raises(RouteError, match="declare every method in one endpoint with methods="):
        router.http("/chat/{r}", name="again", methods=["POST"])(handler)
    with pytest.raises(RouteError, match="change one pattern"):
        add(router, "/chat/{r}", "socket_again")
    parent = Router()
    parent.include(router, "/v1")
    copy = parent.get("chat")
    assert copy is not None
    assert copy.twin is parent.get("chat_page")


def test_method_not_allowed_overridable() -> None:
    """method_not_allowed() builds the 405 with Allow; subclasses may change it."""
    response = Router().method_not_allowed("/x", ("GET", "HEAD"))
    assert (response.status_code, response.headers["Allow"]) == (405, "GET, HEAD")
    assert response.body == b"Method Not Allowed\n"
