"""The package as built: the wheel holds every module, and it runs without the source tree.

An editable install (what ``make`` does) imports from the checkout, so a package left out of
the wheel goes unseen there; the Docker image runs a plain ``pip install .``.  This test does
what the image does, without Docker:

* copies the files the Dockerfile copies (pyproject.toml, README.md, models/, solver/,
  service/) into a temporary folder and builds a wheel from that copy, so nothing outside
  those files can leak in;
* installs the wheel with ``pip install --target`` (its dependencies come from this venv);
* runs a child interpreter in isolated mode with no ``site`` processing (``python -I -S``),
  whose path is the install target first and this venv's site-packages after it: no source
  tree, no PYTHONPATH, no editable-install finder (those live in ``.pth`` files, which
  ``-S`` leaves unread).  There it imports every module the source tree has, checks each came
  from the target, migrates a fresh SQLite job store with the installed migrations, runs one
  tiny solve and ``relupde validate`` on an example.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "solver", "service")
BUILD_TIMEOUT_S = 300

CHILD = r"""
import importlib, json, pathlib, sys
target = pathlib.Path(sys.argv[1]).resolve()
expected = json.loads(sys.argv[2])
example = sys.argv[3]
wrong = {}
for name in expected:
    if name.endswith(".migrations.env"):
        continue  # Alembic's script, run by alembic below, not an importable module
    module = importlib.import_module(name)
    where = pathlib.Path(module.__file__).resolve()
    if target not in where.parents:
        wrong[name] = str(where)
if wrong:
    raise SystemExit(f"imported from outside the wheel: {wrong}")
from solver import JobSpec, solve
spec = JobSpec.model_validate({
    "problem": {
        "kind": "first_order", "dimension": 1,
        "time": {"start": 0.0, "end": 1.0},
        "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
        "equation": "u_t + u_x0",
        "conditions": [{"type": "initial", "value": "x0"},
                       {"type": "dirichlet", "on": "x0=lower", "value": "-t"}],
        "exact": "x0 - t",
    },
    "network": {"hidden": [8]},
    "training": {"steps": 20, "optimizer": "adam", "seed": 0,
                 "points": {"interior": 64, "boundary": 16}},
})
model = solve(spec)
value = model.evaluate([[0.5, 0.25]]).value
print(json.dumps({"value": [float(v) for v in value]}))
import sqlalchemy
from service.jobs import schema
engine = sqlalchemy.create_engine(f"sqlite:///{target.parent / 'jobs.db'}")
schema.prepare(engine)  # every migration, from the installed package
assert schema.current(engine.connect()) == schema.head() >= 3
from service.cli import main
code = main(["validate", example])
raise SystemExit(code)
"""


def source_modules() -> list[str]:
    """Every importable module of the three packages, as the source tree has them."""
    found: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of exactly what the Dockerfile copies."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr
    (found,) = out.glob("relupde-*.whl")
    return found


def test_wheel_lists_every_module_and_the_dashboard(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [
        m
        for m in source_modules()
        if f"{m.replace('.', '/')}.py" not in names and f"{m.replace('.', '/')}/__init__.py" not in names
    ]
    assert missing == []
    for static in (ROOT / "service" / "static").iterdir():
        assert f"service/static/{static.name}" in names


def test_installed_wheel_imports_solves_and_validates(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr
    site_packages = sysconfig.get_paths()["purelib"]
    example = ROOT / "examples" / "transport-1d.json"
    bootstrap = f"import sys; sys.path[:0] = [{str(target)!r}, {site_packages!r}]\n" + CHILD
    run = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            bootstrap,
            str(target),
            json.dumps(source_modules()),
            str(example),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=BUILD_TIMEOUT_S,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    first = json.loads(run.stdout.splitlines()[0])
    assert len(first["value"]) == 1
    assert "valid" in run.stdout.lower()
