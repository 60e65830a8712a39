"""The documentation: every Python example runs as written, and the site builds cleanly."""

from __future__ import annotations

import ast
import asyncio
import code
import importlib.util
import inspect
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import websockets

ROOT = Path(__file__).resolve().parent.parent
WEBSOCKETS_VERSION = tuple(int(part) for part in websockets.__version__.split(".")[:2])
DOCS = ROOT / "docs"

# A ```python block, optionally preceded by <!-- not-run: reason --> on the line before.
BLOCK = re.compile(
    r"^(?:<!--\s*not-run:\s*(?P<reason>.*?)\s*-->\n)?```python\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)

# Pages whose examples a test of their own runs, with more checks than running them:
# tests/test_testing.py runs docs/testing.md's blocks and calls the tests they define.
DEDICATED = {"docs/testing.md"}

# Pages that import websockets' legacy API, on purpose, which warns when first imported.
LEGACY = {"docs/adapters/legacy.md", "docs/migration.md"}

# Pages whose examples need a feature of recent websockets releases, and why.
MIN_WEBSOCKETS = {
    "docs/howto/http-endpoints.md": (
        (17, 0),
        "websockets < 17.0 refuses other methods than GET in its HTTP parser",
    ),
}

# Pages that need a package outside the test group, with where to get it.
REQUIRES = {
    "docs/migration.md": ("werkzeug", "the docs (or bench) dependency group"),
    "docs/adapters/trio.md": ("websockets.trio", "websockets >= 17.0 (websockets-routes[trio])"),
}


def pages() -> list[Path]:
    found = [ROOT / "README.md"]
    found += sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.relative_to(DOCS).parts)
    return found


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def blocks(page: Path) -> list[tuple[int, str | None, str]]:
    """``(line, not-run reason or None, code)`` for each ```python block of ``page``."""
    text = page.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, found.start("code")), found.group("reason"), found.group("code"))
        for found in BLOCK.finditer(text)
    ]


#: The first line of a block meant for ``python -m asyncio``, where ``await`` works at
#: the top level: a comment that says so.
ASYNCIO_REPL = re.compile(r"^#.*\bpython -m asyncio\b")


class AsyncioRepl(code.InteractiveConsole):
    """What ``python -m asyncio`` does with pasted lines, on an event loop kept for a page.

    Lines are compiled one statement at a time, as typed, so a blank line inside a
    block ends it as it would there; coroutines run on the loop. The first error is
    kept in :attr:`error` rather than printed.
    """

    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(namespace)
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.loop = loop
        self.error: BaseException | None = None

    def runcode(self, code: types.CodeType) -> None:
        if self.error is not None:
            return
        function = types.FunctionType(code, self.locals)

        async def run() -> None:
            # Every statement runs in the loop, awaited or not, as there.
            result = function()
            if inspect.iscoroutine(result):
                await result

        try:
            self.loop.run_until_complete(run())
        except BaseException as exc:
            self.error = exc

    def showsyntaxerror(self, filename: str | None = None, **kwargs: Any) -> None:
        if self.error is None:
            self.error = sys.exc_info()[1]

    def paste(self, block: str) -> None:
        """Type ``block`` line by line, then a blank line; raise its first error."""
        for line in [*block.splitlines(), ""]:
            self.push(line)
        if self.error is not None:
            raise self.error


def run_page(page: Path) -> int:
    """Run the page's blocks in order in one fresh namespace; return how many ran.

    A block runs as a file would, outside any event loop, unless its first line says
    it is for ``python -m asyncio``: then it runs as pasted there, statement by
    statement, on one event loop for the whole page. ``__name__`` isn't
    ``"__main__"``: blocks that end with ``if __name__ == "__main__": ...`` define
    everything, serve nothing.
    """
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    loop: asyncio.AbstractEventLoop | None = None
    ran = 0
    try:
        for line, reason, code in blocks(page):
            if reason is not None:
                continue
            if ASYNCIO_REPL.match(code):
                loop = loop or asyncio.new_event_loop()
                AsyncioRepl(namespace, loop).paste(code)
            else:
                # Pad with newlines so that tracebacks point at the line in the page.
                exec(compile("\n" * line + code, page_id(page), "exec"), namespace)
            ran += 1
    finally:
        if loop is not None:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()
    return ran


def params() -> list[Any]:
    found = []
    for page in pages():
        if not blocks(page):
            continue
        name = page_id(page)
        if name in DEDICATED:
            continue
        marks: list[Any] = []
        if name in LEGACY:
            marks.append(pytest.mark.filterwarnings("ignore:websockets.legacy:DeprecationWarning"))
        found.append(pytest.param(page, id=name, marks=marks))
    return found


@pytest.mark.parametrize("page", params())
def test_examples_run(page: Path) -> None:
    """Every ```python block of the page runs, in order, without an error."""
    minimum = MIN_WEBSOCKETS.get(page_id(page))
    if minimum is not None and minimum[0] > WEBSOCKETS_VERSION:
        pytest.skip(f"{minimum[1]}; this is websockets {websockets.__version__}")
    requirement = REQUIRES.get(page_id(page))
    if requirement is not None:
        module, where = requirement
        pytest.importorskip(module, reason=f"{module} is not installed; it is in {where}")
    assert run_page(page) >= 1


def test_top_level_await_is_marked_for_the_asyncio_repl() -> None:
    """A block with top-level await says it is for python -m asyncio: in a file it can't run."""
    unmarked = []
    for page in pages():
        for line, _, source in blocks(page):
            compiled = compile(
                source,
                page_id(page),
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True,
            )
            if compiled.co_flags & inspect.CO_COROUTINE and not ASYNCIO_REPL.match(source):
                unmarked.append(f"{page_id(page)}:{line + 1}")
    assert not unmarked, (
        "these blocks await at the top level: start them with a comment saying they are "
        f"for `python -m asyncio`, or wrap them in a function: {unmarked}"
    )


def test_the_asyncio_repl_reads_blocks_as_typed() -> None:
    """A block that only a file could run (a blank line inside an indented block) fails."""
    loop = asyncio.new_event_loop()
    try:
        namespace: dict[str, Any] = {}
        AsyncioRepl(namespace, loop).paste("import asyncio\nx = await asyncio.sleep(0, 'ok')\n")
        assert namespace["x"] == "ok"
        split = "async def f():\n    a = 1\n\n    return a\n"
        with pytest.raises(IndentationError):
            AsyncioRepl({}, loop).paste(split)
    finally:
        loop.close()


def test_not_run_blocks_are_rare() -> None:
    """Few examples opt out of running, and each says why."""
    skipped = [
        (page_id(page), line, reason)
        for page in pages()
        for line, reason, _ in blocks(page)
        if reason is not None
    ]
    assert all(reason for _, _, reason in skipped)
    total = sum(len(blocks(page)) for page in pages())
    assert len(skipped) * 5 <= total, skipped


def test_every_page_is_in_a_toctree() -> None:
    """Each page is linked from an index, so that the built site reaches it."""
    indexes = [DOCS / "index.md", *DOCS.glob("*/index.md")]
    listed = set()
    for index in indexes:
        base = index.parent
        for entry in re.findall(r"^(\.\./)?([\w/-]+)$", index.read_text(), re.MULTILINE):
            target = (base / (entry[0] + entry[1] + ".md")).resolve()
            listed.add(target)
    for page in DOCS.rglob("*.md"):
        if "_build" in page.relative_to(DOCS).parts or page == DOCS / "index.md":
            continue
        assert page.resolve() in listed, f"{page_id(page)} is in no toctree"


SPHINX_MISSING = [
    name for name in ("sphinx", "myst_parser") if importlib.util.find_spec(name) is None
]


@pytest.mark.skipif(
    bool(SPHINX_MISSING),
    reason="Sphinx and myst-parser are in the docs dependency group: "
    "pip install --group docs (make docs installs it)",
)
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    """The site builds with Sphinx, warnings as errors, offline."""
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    command += ["-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "html" / "index.html").exists()


def test_install_commands_cannot_pick_the_old_project() -> None:
    """Every pip command that installs websockets-routes by name has a floor of 1.0."""
    unpinned = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for command in re.findall(r"^\$ (?:python -m )?pip install (.*)$", text, re.MULTILINE):
            # The name as a requirement, not in a path: websockets-routes[redis]>=1.0.
            for spec in re.findall(r"(?<![/\w-])websockets-routes(?:\[[\w,]+\])?(\S*)", command):
                if not spec.startswith(">=1.0"):
                    unpinned.append(f"{page_id(page)}: {command}")
    # The package index holds 0.1 and 0.2 of the original project under that name.
    assert not unpinned
