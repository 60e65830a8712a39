"""What importing the package and its adapters loads, and what it says when trio is missing."""

from __future__ import annotations

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
    assert "pip install 'websockets-routes[trio]'" in last
