"""Sphinx configuration: MyST pages, API reference from docstrings, built offline."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Document the working tree even when the package isn't installed in editable mode.
sys.path.insert(0, str(ROOT / "src"))

import websockets_routes  # noqa: E402

project = "websockets-routes"
author = "websockets-routes contributors"
copyright = "websockets-routes contributors"
release = websockets_routes.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # docstrings use Google-style Args: / Raises: sections
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# Anchors for "page.md#a-heading" links, as GitHub renders them.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# Offline build: no intersphinx (no inventories to fetch), so references to
# Python's and websockets' types can't resolve; don't report them.
nitpicky = False
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# "Attributes:" sections become :ivar: fields rather than attribute entries that
# would duplicate the ones autodoc finds.
napoleon_use_ivar = True


html_title = f"websockets-routes {release}"
try:
    import furo  # noqa: F401
except ImportError:  # alabaster ships with Sphinx
    html_theme = "alabaster"
else:
    html_theme = "furo"


# Pages written separately, listed in a toctree when they exist: a toctree entry
# for a missing page would be a warning, hence an error.
OPTIONAL_PAGES = ("chat-example", "performance")


def _drop_missing_pages(app: object, docname: str, source: list[str]) -> None:
    srcdir = Path(__file__).resolve().parent
    for page in OPTIONAL_PAGES:
        if not (srcdir / f"{page}.md").exists():
            # Only toctree entries are a page name alone on a line.
            source[0] = re.sub(rf"^(?:\.\./)?{page}\n", "", source[0], flags=re.MULTILINE)


def setup(app: object) -> None:
    app.connect("source-read", _drop_missing_pages)  # type: ignore[attr-defined]
