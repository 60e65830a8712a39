"""Sphinx configuration: MyST pages, API reference from docstrings, built offline."""

from __future__ import annotations

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
