"""Where the example specs are: the contract's copy in ../shared/examples when present,
else the repository's copy in examples/ (identical; a test checks it)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "examples"
OURS = ROOT / "examples"
EXAMPLES = sorted((SHARED if SHARED.is_dir() else OURS).glob("*.json"))
