"""``asyncapi``: the AsyncAPI document of a router, as JSON or YAML, on stdout or in a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .extra_helpers import run_without
from .helpers import APP, ROOT, run

pytest.importorskip("msgspec", reason="AsyncAPI documents need msgspec")

CHAT = "examples.chat.app:router"
SCHEMA = ROOT / "tests" / "data" / "asyncapi" / "asyncapi-3.0.0.json"


def assert_valid(document: dict[str, Any]) -> None:
    """Validate ``document`` against the official AsyncAPI 3.0.0 JSON Schema."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, "\n".join(errors[:5])


def test_json_on_stdout_is_a_valid_asyncapi_document() -> None:
    """By default, asyncapi prints the document as JSON; it validates against AsyncAPI 3.0.0."""
    result = run("asyncapi", CHAT, "--title", "Chat", "--api-version", "2.1.0")
    assert (result.returncode, result.stderr) == (0, "")
    document = json.loads(result.stdout)
    assert_valid(document)
    assert document["info"] == {"title": "Chat", "version": "2.1.0"}
    assert document["channels"]["room"]["address"] == "/rooms/{room}"
    assert "room.chat.send" in document["operations"]


@pytest.mark.parametrize(("name", "options"), [("api.yaml", ()), ("api.txt", ("--format", "yaml"))])
def test_yaml_in_a_file_is_the_same_document(
    tmp_path: Path, name: str, options: tuple[str, ...]
) -> None:
    """--output FILE writes YAML for a .yaml name or with --format yaml, the same document."""
    yaml = pytest.importorskip("yaml")
    output = tmp_path / name
    result = run("asyncapi", CHAT, "--output", str(output), *options)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    text = output.read_text()
    assert "&id" not in text, "shared schemas must not become YAML anchors"
    assert yaml.safe_load(text) == json.loads(run("asyncapi", CHAT).stdout)


def test_json_in_a_file(tmp_path: Path) -> None:
    """--format json --output FILE writes the JSON document to the file, nothing on stdout."""
    output = tmp_path / "api.yaml"
    result = run("asyncapi", CHAT, "--format", "json", "--output", str(output))
    assert (result.returncode, result.stdout) == (0, "")
    assert json.loads(output.read_text())["asyncapi"] == "3.0.0"


def test_yaml_without_pyyaml_says_what_to_install(tmp_path: Path) -> None:
    """Without PyYAML, --format yaml fails with one line naming `pip install pyyaml`."""
    result = run_without("yaml", tmp_path, "asyncapi", CHAT, "--format", "yaml")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "websockets-routes: error: --format yaml needs PyYAML: pip install pyyaml"
    ]
    assert result.stdout == ""


def test_without_msgspec_describes_the_channels(tmp_path: Path) -> None:
    """Without msgspec, asyncapi describes an app without message routers all the same."""
    result = run_without("msgspec", tmp_path, "asyncapi", APP)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(run("asyncapi", APP).stdout)


def test_app_with_messages_without_msgspec_says_what_is_missing(tmp_path: Path) -> None:
    """An app that uses typed messages fails to load without msgspec, saying it is missing."""
    result = run_without("msgspec", tmp_path, "asyncapi", CHAT)
    assert result.returncode == 1
    assert "msgspec" in result.stderr.splitlines()[-1]
    assert result.stdout == ""


def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    """A file that can't be written gives one line on stderr and exit code 1."""
    output = tmp_path / "missing" / "api.json"
    result = run("asyncapi", CHAT, "--output", str(output))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"websockets-routes: error: cannot write {output}: ")


def test_bad_reference_is_one_line() -> None:
    """A reference that doesn't lead to a Router gives one line and exit code 2."""
    result = run("asyncapi", "examples.chat.app:nothing")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "websockets-routes: error: module 'examples.chat.app' has no attribute 'nothing' "
        "(from 'examples.chat.app:nothing')"
    ]
