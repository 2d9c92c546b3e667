"""A real server for the black-box tests: ``relupde serve`` (or the compose commands) in
subprocesses on loopback, driven over HTTP with httpx."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
RELUPDE = str(Path(sys.executable).with_name("relupde"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    """A subprocess with its output in a log file (shown when a test fails)."""

    def __init__(self, argv: list[str], env: Mapping[str, str], log: Path) -> None:
        self.argv, self.log = argv, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._file = log.open("ab")
        self.popen = subprocess.Popen(
            argv, env={**os.environ, **env}, stdout=self._file, stderr=subprocess.STDOUT
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._file.close()
        return self.popen.returncode

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class LiveServer:
    """``relupde serve`` on a free loopback port with its own data dir."""

    def __init__(self, data_dir: Path, env: Mapping[str, str] | None = None, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.env = {"RELUPDE_DATA_DIR": str(data_dir), **(env or {})}
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Process | None = None

    def start(self, timeout: float = 90.0, argv: list[str] | None = None, workers: int = 1) -> LiveServer:
        """Start (``argv`` replaces the default command line) and wait until the dispatcher
        sees at least ``workers`` workers."""
        argv = argv or [RELUPDE, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = Process(argv, self.env, self.data_dir / f"serve-{self.port}.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.popen.poll() is not None:
                raise RuntimeError(f"relupde serve exited:\n{self.process.tail()}")
            try:
                health = httpx.get(f"{self.url}/healthz", timeout=2).json()
                dispatcher = health["dispatcher"]
                if dispatcher["state"] == "running" and (dispatcher["workers"] or 0) >= workers:
                    return self
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"relupde serve did not become healthy:\n{self.process.tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.stop(sig)

    def client(self, headers: Mapping[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=dict(headers or {}), timeout=30)


def wait_for(
    client: httpx.Client, job_id: str, predicate: Any, timeout: float = 120.0, what: str = "condition"
) -> dict[str, Any]:
    """Poll the job until ``predicate(job)``; fail with the last job seen."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if predicate(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last job: {job}")
