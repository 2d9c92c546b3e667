"""Read the repository's docker-compose.yml: the services and the commands they run.

``compose_commands`` gives an end-to-end test exactly the commands that docker compose
starts (scheduler, worker, api), so that the test can run the same processes on loopback
instead of in containers (it swaps ``--host 0.0.0.0`` for ``127.0.0.1`` and sets the
environment itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"

#: The services whose commands ``compose_commands`` returns, in start order.
COMMAND_SERVICES = ("scheduler", "worker", "api")


def load_compose(path: Path | str = COMPOSE_FILE) -> dict[str, Any]:
    """Parse a compose file (YAML anchors and ``<<`` merge keys resolved), without interpolation."""
    with Path(path).open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ValueError(f"{path}: not a compose file (no 'services' mapping)")
    return data


def compose_commands(path: Path | str = COMPOSE_FILE) -> dict[str, list[str]]:
    """The exec-form ``command`` of the scheduler, worker and api services of a compose file.

    Raises ``ValueError`` if one of them is missing or its command is not a list of strings
    (a shell-form string would be split by a shell, not run as given).
    """
    services = load_compose(path)["services"]
    commands: dict[str, list[str]] = {}
    for name in COMMAND_SERVICES:
        service = services.get(name)
        if not isinstance(service, dict):
            raise ValueError(f"{path}: no service {name!r}")
        command = service.get("command")
        if not (isinstance(command, list) and command and all(isinstance(a, str) for a in command)):
            raise ValueError(f"{path}: service {name!r} has no exec-form command: {command!r}")
        commands[name] = list(command)
    return commands
