"""What importing the package and its adapters loads, and what they say without trio or msgspec."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where every warning is an error."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_package_does_not_import_legacy() -> None:
    """Importing websockets_routes neither imports websockets.legacy nor warns."""
    result = run_python(
        "import sys, websockets_routes, websockets_routes.sync\n"
        "assert 'websockets.legacy' not in sys.modules, 'websockets.legacy was imported'\n"
    )
    assert result.returncode == 0, result.stderr


def test_protocol_loads_legacy_on_first_use() -> None:
    """websockets_routes.Protocol loads the legacy adapter when first accessed."""
    result = run_python(
        "import sys, warnings\n"
        "warnings.filterwarnings('ignore', 'websockets.legacy is deprecated', DeprecationWarning)\n"
        "import websockets_routes\n"
        "from websockets.legacy.server import WebSocketServerProtocol\n"
        "assert issubclass(websockets_routes.Protocol, WebSocketServerProtocol)\n"
        "assert 'Protocol' not in websockets_routes.__all__  # a star import mustn't load it\n"
    )
    assert result.returncode == 0, result.stderr


def test_unknown_attribute() -> None:
    """Other missing attributes of the package raise AttributeError as usual."""
    import websockets_routes

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        websockets_routes.Nope  # noqa: B018


@pytest.mark.parametrize("missing", ["trio", "websockets.trio"])
def test_trio_adapter_without_trio(missing: str) -> None:
    """Without trio (or websockets.trio), importing the trio adapter names the extra."""
    result = run_python(
        f"import sys\nsys.modules[{missing!r}] = None\nimport websockets_routes.trio\n"
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError:"), result.stderr
    assert "pip install 'websockets-routes[trio]>=1.0'" in last


# Routes with parameters of every kind of segment, and an HTTP route, which isn't a channel.
ROUTES = """
from websockets_routes import Router

router = Router()

@router.route("/rooms/{room}/users/{user:int}")
async def member(ws, path): pass

@router.route("/files/{name}.{ext}/{rest:path}")
async def files(ws, path): pass

@router.http("/healthz")
def health(request): pass
"""
BINDINGS = {"ws": {"method": "GET", "bindingVersion": "0.1.0"}}


def read_by(converter: str) -> dict[str, str]:
    """The AsyncAPI description of a path parameter that ``converter`` reads."""
    return {"description": f"Path parameter, read by {converter}."}


def test_asyncapi_without_msgspec() -> None:
    """Without msgspec, asyncapi() describes every channel; importing messages names the extra."""
    result = run_python(f"""
import json, sys
sys.modules["msgspec"] = None
{ROUTES}
print(json.dumps(router.asyncapi(title="T", version="1")))
try:
    import websockets_routes.messages
except ImportError as exc:
    print(exc)
""")
    assert result.returncode == 0, result.stderr
    document, error = result.stdout.splitlines()
    assert json.loads(document) == {
        "asyncapi": "3.0.0",
        "info": {"title": "T", "version": "1"},
        "defaultContentType": "application/json",
        "channels": {
            "member": {
                "address": "/rooms/{room}/users/{user}",
                "parameters": {"room": read_by("StrConverter"), "user": read_by("IntConverter")},
                "bindings": BINDINGS,
            },
            "files": {
                "address": "/files/{name}.{ext}/{rest}",
                "parameters": {
                    "name": read_by("StrConverter"),
                    "ext": read_by("StrConverter"),
                    "rest": read_by("PathConverter"),
                },
                "bindings": BINDINGS,
            },
        },
        "operations": {},
    }
    assert "pip install 'websockets-routes[messages]>=1.0'" in error


def test_asyncapi_without_message_routers_imports_no_msgspec() -> None:
    """asyncapi() of a router without message routers imports neither msgspec nor messages."""
    result = run_python(f"""
import sys
{ROUTES}
assert router.asyncapi()["channels"]
loaded = [m for m in sys.modules if m.startswith(("msgspec", "websockets_routes.messages"))]
assert not loaded, loaded
""")
    assert result.returncode == 0, result.stderr
