"""The fuzz harness accepts its seed corpus: each seed gives a documented outcome."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fuzz"))

import fuzz_handshake  # noqa: E402

SEEDS = sorted((ROOT / "fuzz" / "seeds").iterdir())


@pytest.mark.parametrize("seed", SEEDS, ids=[seed.name for seed in SEEDS])
def test_seed_gives_a_documented_outcome(seed: Path) -> None:
    """Each seed, once a crash the fuzzer found, now routes or is refused as documented."""
    fuzz_handshake.check_one(seed.read_bytes())


@pytest.mark.parametrize(
    "target",
    ["/files/a/b", "/docs/readme.md", "/users/12345678-1234-1234-1234-123456789abc", "/x/../y"],
)
def test_harness_checks_targets(target: str) -> None:
    """The harness itself accepts ordinary targets, including a 308 and a 400."""
    fuzz_handshake.check_target(target)


def test_harness_catches_undocumented_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A decision outside the documented ones makes the harness fail."""
    monkeypatch.setattr(fuzz_handshake, "DOCUMENTED_STATUSES", {400, 308})
    with pytest.raises(AssertionError):
        fuzz_handshake.check_target("/nowhere")
