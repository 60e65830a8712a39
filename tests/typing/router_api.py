"""User code of the router, converter and testing APIs that must pass ``mypy --strict``.

Not a test module: ``mypy --strict tests/typing`` checks it. A change that makes
users' correct code fail type checking fails ``make check``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Response

from websockets_routes import (
    AnyConverter,
    BadRequest,
    Converter,
    HTTPResult,
    IntConverter,
    QueryParams,
    Route,
    RoutedPath,
    RouteError,
    Router,
    StartupError,
    URLBuildError,
    URLPath,
)
from websockets_routes.asyncio import Serve
from websockets_routes.asyncio import Server as RoutedServer
from websockets_routes.broadcast import BroadcastError, Registry
from websockets_routes.converters import NO_MATCH, NoMatch
from websockets_routes.testing import serve_for_test, serve_for_test_sync


class Slug(Converter[str]):
    """A custom converter: lower-case words joined by dashes."""

    regex = r"[a-z]+(?:-[a-z]+)*"

    def to_python(self, value: str) -> str:
        if not value.islower():
            raise ValueError("not a slug")
        return value


class Even(IntConverter):
    """A converter that overrides the fast match() with the typed sentinel."""

    def match(self, value: str) -> int | NoMatch:
        number = super().match(value)
        if number is NO_MATCH or number % 2:
            return NO_MATCH
        return number


router = Router(converters={"slug": Slug, "even": Even()}, redirect_slashes=True)
api = Router()


@router.route("/articles/{slug:slug}")
async def article(ws: ServerConnection, path: RoutedPath) -> None:
    slug: str = path.params["slug"]
    query: QueryParams = path.query
    await ws.send(slug + query.get("lang", "en"))
    serving: Router = path.router
    route: Route = path.route
    assert serving.get(route.name) is not None


@router.route("/rooms/{room}", subprotocols=["chat"])
class Room:
    def process_request(self, path: RoutedPath, headers: Headers) -> HTTPResult | None:
        if "Authorization" not in headers:
            return 401, {"WWW-Authenticate": "Bearer"}, "token needed\n"
        path.context["user"] = "ann"
        return None

    async def handle(self, ws: ServerConnection, path: RoutedPath) -> None:
        router.join(ws, "people")
        await router.broadcast("Room", f"{path.context['user']} joined", room=path.params["room"])
        await router.broadcast_group("people", b"binary")
        router.leave(ws, "people")


@api.http("/healthz")
def healthz(path: RoutedPath, headers: Headers) -> HTTPResult:
    return "ok\n"


@router.hook
async def audit(path: RoutedPath, headers: Headers) -> None:
    pass


router.include(api, "/api", namespace="api")


def inspect_routes() -> list[str]:
    names: tuple[str, ...] = router.names
    found: Route | None = router.get("api:healthz")
    registry: Registry = router.connections
    assert len(registry) >= 0
    return [*names, found.pattern if found is not None else "", repr(router)]


def decide(target: str) -> str:
    try:
        path: RoutedPath | None = router.match(target)
    except BadRequest as exc:
        return str(exc)
    result: RoutedPath | Response = router.resolve(target)
    if isinstance(result, Response):
        return str(result.status_code)
    return path.route.name if path is not None else ""


def build() -> str:
    try:
        return router.url_for("article", slug="hello-world")
    except URLBuildError as exc:
        return str(exc)


def declare() -> None:
    with contextlib.suppress(RouteError):
        router.route("/bad/{x:nope}")(article)


async def serve() -> None:
    server: Server = await router.serve("127.0.0.1", 0)
    server.close()
    await server.wait_closed()
    async with serve_for_test(router) as client:
        async with client.connect("/articles/hi") as ws:
            reply = await ws.recv()
            assert isinstance(reply, str)
        response: Response = await client.expect_rejection("/nope", status=404)
        assert response.body is not None
    with contextlib.suppress(BroadcastError):
        await router.broadcast("nope", "x")


@contextlib.asynccontextmanager
async def lifespan(router: Router) -> AsyncIterator[None]:
    yield


with_lifespan = Router(lifespan=lifespan)


@with_lifespan.on_startup
async def open_pool() -> None:
    pass


@with_lifespan.on_shutdown
def close_pool() -> None:
    pass


async def serve_with_lifespan() -> None:
    serving: Serve = with_lifespan.serve("127.0.0.1", 0)
    server: RoutedServer = await serving
    client: Any = None
    async with with_lifespan.serve("127.0.0.1", 0) as other:
        address: Any = other.sockets[0].getsockname()
        assert address is not client
    server.close()
    await server.wait_closed()
    try:
        async with with_lifespan.lifespan():
            pass
    except StartupError as exc:
        print(exc.__cause__)


def run_script() -> None:
    with_lifespan.run("127.0.0.1", 8765, graceful_timeout=None, ping_interval=None)


def serve_sync() -> None:
    with serve_for_test_sync(router) as client:
        with client.connect("/articles/hi") as ws:
            ws.send(str(uuid.uuid4()))
        client.expect_rejection("/nope", status=404)


tenants = Router(converters={"lang": AnyConverter}, strict_slashes=False)


@tenants.route("/rooms/{room}/{lang:lang('en', 'fr')}", host="{tenant}.example.com")
async def tenant_room(ws: ServerConnection, path: RoutedPath) -> None:
    host: str | None = path.host
    await ws.send(f"{path.params['tenant']} on {host}")


@tenants.http(
    "/rooms/{room}/{lang:lang('en', 'fr')}", methods=["GET", "POST"], host="{tenant}.example.com"
)
def tenant_page(path: RoutedPath, headers: Headers) -> HTTPResult:
    method: str = path.method
    return f"{method} page\n"


tenants.include(api, "/api", namespace="tenant_api", host="{region}.api.example.com")


def by_host(target: str, host: str) -> str:
    found: RoutedPath | None = tenants.match(target, host=host)
    result: RoutedPath | Response = tenants.resolve(target, host=host)
    refusal: Response = tenants.method_not_allowed(target, ("GET", "HEAD"))
    routing: bool = tenants.host_routing
    route = found.route if found is not None else None
    twin: Route | None = route.twin if route is not None else None
    methods: tuple[str, ...] | None = twin.methods if twin is not None else None
    assert isinstance(result, RoutedPath | Response)
    assert routing
    assert methods != ()
    return refusal.reason_phrase


def absolute() -> str:
    url: URLPath = tenants.url_path_for("tenant_room", tenant="acme", room="a", lang="en")
    host: str | None = url.host
    plain: str = tenants.url_for("tenant_room", tenant="acme", room="a", lang="en")
    return url.absolute() + url.absolute("ws", port=8765) + (host or "") + plain


async def serve_tenants() -> None:
    async with serve_for_test(tenants) as client:
        async with client.connect("/rooms/a/en", host="acme.example.com") as ws:
            await ws.recv()
        await client.expect_rejection("/rooms/a/en", host="example.com", status=404)


if TYPE_CHECKING:
    asyncio.run(serve())
