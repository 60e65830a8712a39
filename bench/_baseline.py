"""Another checkout of websockets-routes measured beside this one: ``--baseline-src DIR``.

A change that claims to cost nothing is measured against the code before it, in the
same run: ``git worktree add ../base main~3``, then ``python -m bench --baseline-src
../base/src``. The match section loads that copy in-process under another name; the
network sections start its server processes with it first on ``sys.path``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["ENV", "LABEL", "baseline_src", "load", "use"]

#: Carries the directory to spawned server processes.
ENV = "BENCH_BASELINE_SRC"
#: How tables name the other checkout.
LABEL = "websockets-routes (baseline)"
_NAME = "websockets_routes_baseline"


def use(src: str) -> None:
    """Measure the package in ``src`` (a directory holding ``websockets_routes/``) too."""
    package = Path(src) / "websockets_routes" / "__init__.py"
    if not package.is_file():
        raise SystemExit(f"--baseline-src: {package} doesn't exist")
    os.environ[ENV] = str(Path(src).resolve())


def baseline_src() -> str | None:
    """The baseline's directory, or None when there is no baseline in this run."""
    return os.environ.get(ENV) or None


def load() -> ModuleType:
    """The baseline's ``websockets_routes``, imported in this process as another package."""
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    src = baseline_src()
    assert src is not None
    init = Path(src) / "websockets_routes" / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        _NAME, init, submodule_search_locations=[str(init.parent)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module
