"""The README's examples run as written (docs that drift are bugs).

The Python examples run in this checkout.  The quick start ("Set up and run") is walked
through from a clean clone: its ``sh`` blocks are read from README.md and run, with only
these stand-ins:

* ``git clone <repository-url> DIR`` clones this repository's committed HEAD into a temporary
  folder, then copies over the tracked files this checkout has changed (the tree as it would
  be committed; untracked files stay out, as from a real clone);
* ``.venv`` in the clone is this checkout's installed ``.venv`` (a symlink; the clone's
  Makefile and pyproject.toml are dated before its install stamp, so make installs nothing),
  and PYTHONPATH puts the clone's packages first;
* ``make test`` (minutes) is checked with ``make -n``: it runs the test suite with pytest;
* ``make run`` runs in the background on a free port, and the commands of the next block run
  as a bash script (``set -euo pipefail``) against it, with ``localhost:8000`` swapped for
  that port; curl is wrapped to add ``--fail-with-body``, so every request must answer 2xx.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK_START = "Set up and run"
README_PORT = re.compile(r"\b(?:localhost|127\.0\.0\.1):8000\b")
SERVER_START_S = 60.0
BLOCK_TIMEOUT_S = 120.0


def test_readme_python_example_runs() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README.md has no python example"
    for code in blocks:
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr


# -- deployment ---------------------------------------------------------------------------------


def test_readme_deploy_puts_tls_in_front_of_the_published_port() -> None:
    """The Deploy section's proxies forward to the port compose publishes, on loopback, and
    nginx admits the largest body the service accepts."""
    from service.api.limits import MAX_EVALUATE_BYTES
    from tests.service.compose import load_compose

    section = _section((ROOT / "README.md").read_text(encoding="utf-8"), "Deploy")
    assert "TLS" in section and "API key" in section, "the Deploy section must say keys travel over TLS only"
    proxies = dict(re.findall(r"^```(caddyfile|nginx)\n(.*?)^```", section, flags=re.S | re.M))
    assert set(proxies) == {"caddyfile", "nginx"}, sorted(proxies)
    compose = load_compose(ROOT / "docker-compose.yml")
    published = {str(port) for port in compose["services"]["api"]["ports"]}
    assert published == {"127.0.0.1:8000:8000"}, published
    assert "reverse_proxy 127.0.0.1:8000" in proxies["caddyfile"]
    assert "proxy_pass http://127.0.0.1:8000;" in proxies["nginx"]
    assert re.search(r"listen 443 ssl;", proxies["nginx"]) and "ssl_certificate_key" in proxies["nginx"]
    size = re.search(r"client_max_body_size (\d+)([kmg]?);", proxies["nginx"])
    assert size, "nginx's default 1m body limit would refuse bulk /evaluate bodies"
    factor = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[size.group(2)]
    assert int(size.group(1)) * factor >= MAX_EVALUATE_BYTES
    for block in _sh_blocks(section):
        for path in re.findall(r"(?<![\w/])(\.env\.example|docker-compose\.yml)\b", block):
            assert (ROOT / path).is_file(), f"the Deploy section names {path}, which does not exist"


# -- the quick start ---------------------------------------------------------------------------


def _section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section of a markdown text."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"README.md has no '## {heading}' section"
    return match.group(1)


def _sh_blocks(section: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", section, flags=re.S | re.M)


def _setup_commands(block: str) -> list[list[str]]:
    """The setup block's commands as argv lists (comments dropped, ``&&`` chains split)."""
    commands: list[list[str]] = []
    for line in block.splitlines():
        words = shlex.split(line.replace("<repository-url>", "REPOSITORY-URL"), comments=True)
        while words:
            end = words.index("&&") if "&&" in words else len(words)
            commands.append(words[:end])
            words = words[end + 1 :]
    return commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _git(*args: str, cwd: Path = ROOT) -> str:
    proc = subprocess.run(
        ["git", "--no-optional-locks", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _clone(target: Path) -> None:
    """This repository's HEAD cloned to ``target``, plus the checkout's changes to tracked files."""
    if not (ROOT / ".git").exists() or not shutil.which("git") or not shutil.which("make"):
        pytest.skip("the quick start needs a git checkout of relupde, git and make")
    _git("clone", "--quiet", "--no-hardlinks", str(ROOT), str(target))
    for name in _git("diff", "--name-only", "--no-renames", "HEAD", "-z").split("\0"):
        if not name:
            continue
        source, copy = ROOT / name, target / name
        if source.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
        else:
            copy.unlink(missing_ok=True)


def _reuse_venv(clone: Path) -> None:
    """Give the clone this checkout's installed .venv, and make sure make would not touch it."""
    stamp = ROOT / ".venv" / ".installed"
    if not stamp.exists():
        pytest.skip("this checkout's .venv is not installed (run `make run` or `make test` once)")
    (clone / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    before = stamp.stat().st_mtime - 60
    for name in ("Makefile", "pyproject.toml"):
        os.utime(clone / name, (before, before))
    up_to_date = subprocess.run(
        ["make", "-q", ".venv/.installed"], cwd=clone, capture_output=True, timeout=30
    )
    assert up_to_date.returncode == 0, "make would reinstall the shared .venv; refusing to run it"


def _curl_failing_on_http_errors(bin_dir: Path) -> None:
    """A ``curl`` first on PATH that fails (exit 22) on any HTTP status >= 400."""
    real = shutil.which("curl")
    assert real, "the quick start needs curl"
    bin_dir.mkdir()
    wrapper = bin_dir / "curl"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(real)} --fail-with-body "$@"\n')
    wrapper.chmod(0o755)


def _wait_healthy(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        assert server.poll() is None, f"`make run` exited with {server.returncode}:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"`make run` did not answer /healthz within {SERVER_START_S:.0f} s:\n{log.read_text()}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop `make run` and everything it started (its own session) by its process group."""
    if server.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def quick_start_blocks() -> list[str]:
    blocks = _sh_blocks(_section((ROOT / "README.md").read_text(encoding="utf-8"), QUICK_START))
    assert len(blocks) == 2, "the quick start is a setup block and a block of first requests"
    return blocks


def _fresh_shell_env() -> dict[str, str]:
    """The environment of a fresh shell: none of this process's RELUPDE_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RELUPDE_") and k != "PYTHONPATH"}


@pytest.mark.slow
def test_readme_quick_start_runs_from_a_clean_clone(quick_start_blocks: list[str], tmp_path: Path) -> None:
    setup, requests = quick_start_blocks
    port = _free_port()
    cwd = tmp_path
    env = _fresh_shell_env()
    log = tmp_path / "make-run.log"
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for argv in _setup_commands(setup):
            match argv:
                case ["git", "clone", "REPOSITORY-URL", folder]:
                    clone = cwd / folder
                    _clone(clone)
                    _reuse_venv(clone)
                    env["PYTHONPATH"] = str(clone)
                case ["cd", folder]:
                    cwd = cwd / folder
                    assert cwd.is_dir(), f"cd {folder}: no such folder"
                case ["make", "run"]:
                    with log.open("wb") as out:
                        servers.append(
                            subprocess.Popen(
                                ["make", "run", f"PORT={port}"],
                                cwd=cwd,
                                env=env,
                                stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True,
                            )
                        )
                    _wait_healthy(port, servers[-1], log)
                case ["make", "test"]:
                    dry = subprocess.run(
                        ["make", "-n", "test"], cwd=cwd, env=env, capture_output=True, text=True, timeout=30
                    )
                    assert dry.returncode == 0, dry.stderr
                    runs = [shlex.split(line)[0] for line in dry.stdout.splitlines() if line.strip()]
                    assert any(Path(word).name == "pytest" for word in runs), dry.stdout
                case _:
                    pytest.fail(
                        f"the quick start runs {shlex.join(argv)!r}, which this test cannot stand in for"
                    )
        assert servers, "the quick start never starts the service (`make run`)"

        _curl_failing_on_http_errors(tmp_path / "bin")
        script = "set -euo pipefail\n" + README_PORT.sub(f"127.0.0.1:{port}", requests)
        proc = subprocess.run(
            ["bash", "-c", script],
            cwd=cwd,
            env={**env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{env.get('PATH', '')}"},
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
        )
        assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n--- make run:\n{log.read_text()}"
        printed = proc.stdout.replace(" ", "")
        assert '"status":"ok"' in printed, proc.stdout
        final = printed.rsplit("event:status", 1)[-1]
        assert '"status":"succeeded"' in final, proc.stdout
        assert '"value":[' in final and '"gradient":[[' in final, proc.stdout
    finally:
        for server in servers:
            _stop(server)
