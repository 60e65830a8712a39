"""Startup and shutdown of a served router: its lifespan, once per process.

A router's startup runs before its first server accepts a connection, its shutdown
after its last server closed its last connection, however many servers (or
adapters) serve it in the process. Starting a router starts the routers it
includes too, each once.

Nothing here imports an I/O library: the same coroutines run on asyncio and trio.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

from .exceptions import StartupError

if TYPE_CHECKING:
    from ._router import Router

__all__ = ["Lifespan", "LifespanFactory", "LifespanHook", "check_lifespan"]

logger = logging.getLogger("websockets_routes")

#: A startup or shutdown hook: a function without arguments; on asyncio and trio
#: servers it may be a coroutine function.
LifespanHook: TypeAlias = Callable[[], Any]

#: What ``Router(lifespan=...)`` takes: a function that receives the router and
#: returns an async context manager (a plain one on threaded servers); entering
#: it is the startup, leaving it the shutdown.
LifespanFactory: TypeAlias = Callable[["Router"], Any]


def _name(hook: Any) -> str:
    return str(getattr(hook, "__qualname__", None) or repr(hook))


def check_lifespan(router: Router, *, asynchronous: bool) -> None:
    """Check that the hooks of ``router`` and the routers it includes suit a server.

    Raises:
        TypeError: If a startup or shutdown hook is a coroutine function on a
            threaded server.
    """
    if asynchronous:
        return
    for owner in _family(router):
        spans = owner._lifespan
        for kind, hooks in (("startup", spans.startup), ("shutdown", spans.shutdown)):
            for hook in hooks:
                if inspect.iscoroutinefunction(hook):
                    raise TypeError(
                        f"the {kind} hook {_name(hook)} of {owner!r} must be a plain "
                        f"function (def, not async def) on a threaded server"
                    )


def _family(router: Router) -> list[Router]:
    """``router``, then the routers whose routes it includes, outermost first, each once."""
    found: dict[Any, None] = {router: None}
    for route in router.routes:
        # Every router has a lifespan; a bare route table (never served) has none.
        found.update((r, None) for r in route.chain if hasattr(r, "_lifespan"))
    return list(found)


class Lifespan:
    """The startup and shutdown of one router, counted by the servers that use it.

    :meth:`Router.lifespan <websockets_routes.Router.lifespan>` returns it. Entering
    it (``async with`` on asyncio and trio, ``with`` on threads) starts the router
    and the routers it includes, unless they already run for another server;
    leaving it stops those that no other server uses any more.
    """

    def __init__(self, router: Router, factory: LifespanFactory | None) -> None:
        self.router = router
        self.factory = factory
        #: Startup and shutdown hooks, in the order they were added.
        self.startup: list[LifespanHook] = []
        self.shutdown: list[LifespanHook] = []
        # How many servers use this router now; what to unwind when none does.
        self.users = 0
        self._stack: contextlib.AsyncExitStack | contextlib.ExitStack | None = None
        # The routers each entry started, to stop the same ones on exit.
        self._entries: list[list[Lifespan]] = []

    @property
    def running(self) -> bool:
        """Whether the router started and didn't stop yet."""
        return self.users > 0

    # Entering the family: the router and the routers it includes.

    async def __aenter__(self) -> None:
        started: list[Lifespan] = []
        try:
            for router in _family(self.router):
                await router._lifespan._start()
                started.append(router._lifespan)
        except BaseException:
            for lifespan in reversed(started):
                await lifespan._stop()
            raise
        self._entries.append(started)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for lifespan in reversed(self._entries.pop()):
            await lifespan._stop()

    def __enter__(self) -> None:
        check_lifespan(self.router, asynchronous=False)
        started: list[Lifespan] = []
        try:
            for router in _family(self.router):
                router._lifespan._start_sync()
                started.append(router._lifespan)
        except BaseException:
            for lifespan in reversed(started):
                lifespan._stop_sync()
            raise
        self._entries.append(started)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for lifespan in reversed(self._entries.pop()):
            lifespan._stop_sync()

    # One router.

    async def _start(self) -> None:
        self.users += 1
        if self.users > 1:
            return
        stack = contextlib.AsyncExitStack()
        try:
            if self.factory is not None:
                manager = self._call_factory()
                if hasattr(manager, "__aenter__"):
                    await _started(self.factory, stack.enter_async_context(manager))
                else:
                    _started_sync(self.factory, lambda: stack.enter_context(manager))
            for hook in self.startup:
                result = _started_sync(hook, hook)
                if inspect.isawaitable(result):
                    await _started(hook, result)
            stack.push_async_callback(self._run_shutdown)
        except BaseException:
            self.users = 0
            await stack.aclose()
            raise
        self._stack = stack

    async def _stop(self) -> None:
        self.users -= 1
        if self.users > 0:
            return
        stack, self._stack = self._stack, None
        assert isinstance(stack, contextlib.AsyncExitStack)
        try:
            await stack.aclose()
        except Exception:
            logger.error("the lifespan of %r failed to shut down", self.router, exc_info=True)

    async def _run_shutdown(self) -> None:
        # Every hook runs, even after one failed: each may hold its own resource.
        for hook in self.shutdown:
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.error(
                    "shutdown hook %s of %r failed", _name(hook), self.router, exc_info=True
                )

    def _start_sync(self) -> None:
        self.users += 1
        if self.users > 1:
            return
        stack = contextlib.ExitStack()
        try:
            if self.factory is not None:
                manager = self._call_factory()
                if not hasattr(manager, "__enter__"):
                    raise TypeError(
                        f"lifespan={_name(self.factory)} of {self.router!r} returned "
                        f"{manager!r}: a threaded server needs a plain context manager "
                        f"(@contextlib.contextmanager, not @asynccontextmanager)"
                    )
                _started_sync(self.factory, lambda: stack.enter_context(manager))
            for hook in self.startup:
                _started_sync(hook, hook)
            stack.callback(self._run_shutdown_sync)
        except BaseException:
            self.users = 0
            stack.close()
            raise
        self._stack = stack

    def _stop_sync(self) -> None:
        self.users -= 1
        if self.users > 0:
            return
        stack, self._stack = self._stack, None
        assert isinstance(stack, contextlib.ExitStack)
        try:
            stack.close()
        except Exception:
            logger.error("the lifespan of %r failed to shut down", self.router, exc_info=True)

    def _run_shutdown_sync(self) -> None:
        for hook in self.shutdown:
            try:
                hook()
            except Exception:
                logger.error(
                    "shutdown hook %s of %r failed", _name(hook), self.router, exc_info=True
                )

    def _call_factory(self) -> Any:
        factory = self.factory
        assert factory is not None
        manager = _started_sync(factory, lambda: factory(self.router))
        if not hasattr(manager, "__aenter__") and not hasattr(manager, "__enter__"):
            if inspect.iscoroutine(manager):
                manager.close()  # An async def without the decorator: never awaited.
            raise TypeError(
                f"lifespan={_name(factory)} of {self.router!r} must return a "
                f"context manager (decorate it with @contextlib.asynccontextmanager), "
                f"not {manager!r}"
            )
        return manager


def _failure(what: Any, exc: Exception) -> StartupError:
    return StartupError(f"startup failed in {_name(what)}: {type(exc).__name__}: {exc}")


def _started_sync(what: Any, call: Callable[[], Any]) -> Any:
    """``call()``, with a failure reported as a StartupError naming ``what``."""
    try:
        return call()
    except Exception as exc:
        raise _failure(what, exc) from exc


async def _started(what: Any, awaitable: Any) -> Any:
    """``await awaitable``, with a failure reported as a StartupError naming ``what``."""
    try:
        return await awaitable
    except Exception as exc:
        raise _failure(what, exc) from exc
