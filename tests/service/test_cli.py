"""The relupde command line, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from service.cli import main


def test_check_passes_and_prints_the_figures(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "ReLU(x)-ReLU(-x) at 0, c=0.5" in out
    assert "all checks passed" in out


def test_console_script_entry_point_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "check"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "chain rule" in proc.stdout
