"""``relupde submit|status|wait|evaluate|download|cancel|delete`` against the API in process.

The commands build their client through ``service.cli_remote.connect``; here it returns a
client whose transport is the app itself, so each command runs exactly as against a server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from service import cli_remote
from service.cli import main
from service.client import Client
from solver.model import Model
from tests.service.conftest import ALICE, in_process_client, register_model, tiny_spec


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-remote")


@pytest.fixture(scope="module")
def app(data_dir: Path) -> Iterator[TestClient]:
    with in_process_client(data_dir) as client:
        yield client


@pytest.fixture(scope="module")
def trained(app: TestClient, data_dir: Path) -> tuple[str, Model]:
    return register_model(app, data_dir, tiny_spec(10, hidden=4, name="cli model"))


@pytest.fixture(autouse=True)
def through_the_app(app: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    seen: list[tuple[str, str | None]] = []

    def connect(server: str, key: str | None) -> Client:
        seen.append((server, key))
        return Client(server, api_key=key, transport=httpx.MockTransport(app.send))

    monkeypatch.setattr(cli_remote, "connect", connect)
    return seen


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main([*argv, "--server", "http://testserver", "--key", "alice-key"])
    out, err = capsys.readouterr()
    return status, out, err


def _job_of(app: TestClient, model_id: str) -> str:
    jobs = app.get("/v1/jobs", headers=ALICE, params={"status": "succeeded"}).json()["jobs"]
    return next(j["id"] for j in jobs if j["model_id"] == model_id)


def test_submit_applies_overrides_and_prints_the_job_id(
    app: TestClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    through_the_app: list[tuple[str, str | None]],
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(tiny_spec(40)))
    status, out, _ = run(["submit", str(spec), "--set", "training.steps=77", "--set", "name=cli"], capsys)
    assert status == 0
    job_id = out.strip()
    job = app.get(f"/v1/jobs/{job_id}", headers=ALICE).json()
    assert job["spec"]["training"]["steps"] == 77 and job["name"] == "cli" and job["status"] == "queued"
    assert through_the_app[-1] == ("http://testserver", "alice-key")
    status, out, err = run(["submit", str(spec), "--set", "training.stepz=5"], capsys)
    assert status == 2 and "stepz" in err and out == ""


def test_status_wait_and_cancel(
    app: TestClient, trained: tuple[str, Model], capsys: pytest.CaptureFixture[str]
) -> None:
    model_id, _ = trained
    job_id = _job_of(app, model_id)
    status, out, _ = run(["status", job_id], capsys)
    # (registered as a worker would, without progress reports: step 0 of 10)
    assert (status, out.strip()) == (0, f"{job_id} succeeded step 0/10 (cli model) model {model_id}")
    status, out, _ = run(["status", job_id, "--json"], capsys)
    assert json.loads(out)["model_id"] == model_id
    status, out, _ = run(["wait", job_id], capsys)
    assert (status, out.strip()) == (0, model_id)
    queued = app.post("/v1/jobs", json=tiny_spec(5), headers=ALICE).json()["id"]
    status, out, err = run(["wait", queued, "--timeout", "0.6"], capsys)  # stderr is no terminal here
    assert status == 1 and f"{queued} queued step 0/5" in err and "wait_timeout" in err
    status, out, _ = run(["cancel", queued], capsys)
    assert status == 0 and out.startswith(f"{queued} canceled")
    status, out, err = run(["wait", queued], capsys)
    assert status == 1 and out == "" and f"job {queued} canceled" in err


def test_evaluate_prints_what_the_model_gives(
    trained: tuple[str, Model], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_id, model = trained
    status, out, _ = run(["evaluate", model_id, "--at", "0.5,1.0", "--at", "0.25,2"], capsys)
    assert status == 0
    body = json.loads(out)
    expected = model.evaluate(np.array([[0.5, 1.0], [0.25, 2.0]]))
    np.testing.assert_array_equal(body["value"], expected.value)
    np.testing.assert_array_equal(body["gradient"], expected.gradient)
    assert body["inside"] == [True, True]
    points = tmp_path / "p.npy"
    np.save(points, np.array([[0.1, 0.2], [0.3, 9.0]]))
    status, out, _ = run(
        ["evaluate", model_id, "--points", str(points), "--out", str(tmp_path / "r.npz")], capsys
    )
    assert status == 0 and "2 points" in out
    saved = np.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(saved["value"], model.evaluate(np.load(points)).value)
    assert saved["inside"].tolist() == [True, False]  # t = 9 lies outside [0, 1]
    for bad, message in ((["--at", "0.5;1"], "comma-separated"), ([], "at least one point")):
        status, _, err = run(["evaluate", model_id, *bad], capsys)
        assert status == 2 and message in err


def test_download_and_delete(
    app: TestClient, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_id, _ = register_model(app, data_dir, tiny_spec(6, hidden=4, name="to delete"))
    target = tmp_path / "w.safetensors"
    status, out, _ = run(["download", model_id, "--out", str(target)], capsys)
    assert status == 0 and "sha256 checked" in out
    assert (
        target.read_bytes() == (data_dir / "models" / "alice" / model_id / "weights.safetensors").read_bytes()
    )
    job_id = _job_of(app, model_id)
    status, _, err = run(["delete"], capsys)
    assert status == 2 and "name a job" in err
    status, out, _ = run(["delete", "--model", model_id], capsys)
    assert (status, out.strip()) == (0, f"deleted {model_id} (models: {model_id})")
    status, out, _ = run(["delete", job_id], capsys)
    assert (status, out.strip()) == (0, f"deleted {job_id} (models: none)")
    status, _, err = run(["status", job_id], capsys)
    assert status == 1 and "not_found" in err


@pytest.mark.parametrize("command", cli_remote.COMMANDS)
def test_every_command_has_help_with_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert f"example: relupde {command}" in text and "--server" in text and "--key" in text
