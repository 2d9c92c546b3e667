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


def test_solve_command_trains_saves_and_prints_errors(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from solver import load_model

    spec = {
        "problem": {
            "kind": "first_order",
            "dimension": 1,
            "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
            "equation": "u_x0 - 1",
            "conditions": [{"type": "dirichlet", "on": "x0=lower", "value": "0"}],
            "exact": "x0",
        },
        "network": {"hidden": [8]},
        "training": {"steps": 10, "optimizer": "adam", "points": {"interior": 32, "boundary": 8}},
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    assert main(["solve", str(path), "--out", str(tmp_path / "model"), "--set", "training.steps=12"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "rel_l2" in out and "model saved to" in out
    assert "step 12/12 sup |r| " in captured.err  # plain progress lines: stderr is no terminal here
    model = load_model(tmp_path / "model")
    assert model.errors is not None and model.metrics["steps"] == 12  # the --set override
    # the bounds, computed without `exact`: a verdict line, then one line per bound
    assert f"verdict: {model.estimate['verdict']}" in out  # type: ignore[index]
    assert all(bound.verdict() in out for bound in model.bounds) and model.bounds


def test_solve_command_reports_a_bad_spec(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.json"
    path.write_text('{"problem": {"kind": "nope"}}')
    assert main(["solve", str(path), "--out", str(tmp_path / "m")]) == 2
    assert "not a valid job spec" in capsys.readouterr().err
    assert main(["solve", str(tmp_path / "missing.json"), "--out", str(tmp_path / "m")]) == 2


def test_serve_refuses_a_public_address_without_keys(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RELUPDE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("RELUPDE_API_KEYS", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "RELUPDE_API_KEYS" in capsys.readouterr().err


def test_serve_names_an_unreachable_database(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RELUPDE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(
        "RELUPDE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    )
    assert main(["serve", "--port", "1"]) == 2
    assert "RELUPDE_DATABASE_URL" in capsys.readouterr().err


def test_worker_without_a_scheduler_says_what_to_set(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RELUPDE_DASK_ADDRESS", raising=False)
    assert main(["worker"]) == 2
    assert "RELUPDE_DASK_ADDRESS" in capsys.readouterr().err


def test_plot_command_writes_a_png_of_each_kind(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from solver import JobSpec, solve
    from tests.service.conftest import tiny_spec

    folder = solve(JobSpec.model_validate(tiny_spec(20))).save(tmp_path / "model")
    sizes = {}
    for kind in ("solution", "error", "gradient_error", "loss"):
        out = tmp_path / f"{kind}.png"
        assert main(["plot", str(folder), "--out", str(out), "--kind", kind]) == 0
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        sizes[kind] = out.stat().st_size
    assert len(set(sizes.values())) == 4  # four different pictures
    assert main(["plot", str(folder), "--out", str(tmp_path / "x.png"), "--x", "t", "--y", "x0"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["plot", str(folder), "--out", str(tmp_path / "b.png"), "--kind", "bound"]) == 2
    assert "whole-space" in capsys.readouterr().err
    assert main(["plot", str(folder), "--out", str(tmp_path / "b.png"), "--times", "0,x"]) == 2
    assert "'x' is not a number" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "nothing"), "--out", str(tmp_path / "n.png")]) == 2
    assert "not a model folder" in capsys.readouterr().err
