"""The project's own files stand alone: no code, doc or message cites a file outside the
repository (the contract and design notes it was built from, their source documents, or
the task tracker), so a user reading them never meets a reference they cannot follow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ["models", "solver", "service", "bench", "docs", "examples"]
TOP = ["README.md", "BENCHMARKS.md", "Makefile", "Dockerfile", "docker-compose.yml", "pyproject.toml"]
SUFFIXES = {".py", ".md", ".js", ".html", ".css", ".json", ".toml", ".yml", ".yaml", ".txt", ".ini"}
OUTSIDE = [
    re.compile(r"\bAPI\.md\b"),
    re.compile(r"\bDESIGN\.md\b"),
    re.compile(r"\bSTYLE\.md\b"),
    re.compile(r"\.\./shared\b"),
    re.compile(r"\bseeds? 00\d\b"),
    re.compile(r"\bissues?\b", re.IGNORECASE),
]


def project_files() -> list[Path]:
    found = [ROOT / name for name in TOP if (ROOT / name).is_file()]
    for folder in SCANNED:
        found += [p for p in sorted((ROOT / folder).rglob("*")) if p.is_file() and p.suffix in SUFFIXES]
    return found


def test_the_scan_sees_the_project() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in project_files()}
    assert {"README.md", "BENCHMARKS.md", "solver/spec.py", "docs/solver.md"} <= names


@pytest.mark.parametrize("pattern", OUTSIDE, ids=lambda p: p.pattern)
def test_no_file_cites_what_lies_outside_the_repository(pattern: re.Pattern[str]) -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
        for path in project_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, "\n".join(hits)
