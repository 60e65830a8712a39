"""An app with a lifespan for the CLI tests: ``tests.cli.lifespan_app:router``.

Its startup and shutdown log ``startup in <pid>`` and ``shutdown in <pid>`` on the
``lifespan_app`` logger; with ``FAIL_STARTUP`` in the environment, the startup
raises instead.

Routes:
    /client     sends the client's address as the hook saw it, then as the handler does
    /stuck      sends "stuck", then ignores the close until cancelled
    /echo       echoes every message
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from websockets.datastructures import Headers

from websockets_routes import RoutedPath, Router

logger = logging.getLogger("lifespan_app")
router = Router()


@router.on_startup
async def open_resources() -> None:
    """Log the startup, or fail it when asked to."""
    if os.environ.get("FAIL_STARTUP"):
        raise ConnectionRefusedError("the database at 127.0.0.1:5432 refused the connection")
    logger.info("startup in %d", os.getpid())


@router.on_shutdown
async def close_resources() -> None:
    """Log the shutdown."""
    logger.info("shutdown in %d", os.getpid())


def remember_client(path: RoutedPath, headers: Headers) -> None:
    """Keep the address the hook sees for the handler."""
    path.context["hook client"] = path.client


@router.route("/client", hooks=[remember_client])
async def client(ws: Any, path: RoutedPath) -> None:
    """Send the client's host as the hook saw it, then as the handler sees it."""
    await ws.send(path.context["hook client"][0])
    await ws.send(ws.remote_address[0])
    await ws.wait_closed()


@router.route("/stuck")
async def stuck(ws: Any, path: RoutedPath) -> None:
    """Say "stuck", then sleep through the close frame; log when cancelled."""
    await ws.send("stuck")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        logger.info("stuck handler cancelled in %d", os.getpid())
        raise


@router.route("/echo")
async def echo(ws: Any, path: RoutedPath) -> None:
    """Echo every message."""
    async for message in ws:
        await ws.send(message)
