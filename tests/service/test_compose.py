"""The container files: docker-compose.yml, Dockerfile and .dockerignore.

No Docker engine is needed.  The compose file is validated against the Compose
Specification JSON schema, vendored as ``compose-spec.schema.json`` beside this file from
the public repository compose-spec/compose-spec, path ``schema/compose-spec.json``, commit
b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba (unchanged, 32,993 bytes).  Then come the
properties the schema cannot express: exec-form commands, shared data volume, health
checks, keys from the environment, service addresses.  ``docker compose config`` (or
docker-compose v1) checks the file as well where one of them is installed.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from service.settings import Settings
from tests.service.compose import COMPOSE_FILE, DOCKERFILE, REPO_ROOT, compose_commands, load_compose

SCHEMA_FILE = Path(__file__).with_name("compose-spec.schema.json")
SERVICES = ("api", "postgres", "scheduler", "worker")
API_COMMAND = ["relupde", "serve", "--host", "0.0.0.0", "--port", "8000"]
WORKER_COMMAND = ["relupde", "worker"]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Placeholder values for the variables the compose file requires, for ``config``.
REQUIRED_ENV = {"RELUPDE_API_KEYS": "tenant:not-a-real-key", "RELUPDE_DB_PASSWORD": "not-a-real-password"}
ENV_EXAMPLE = REPO_ROOT / ".env.example"
SETTINGS_FILE = REPO_ROOT / "service" / "settings.py"
#: ``${NAME}``, ``${NAME:-default}``, ``${NAME:?message}`` ... and ``$NAME``; ``$$`` escapes.
INTERPOLATION = re.compile(r"(?<!\$)\$(?:\{(\w+)(?:(:?[-?])([^}]*))?\}|(\w+))")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The parsed docker-compose.yml."""
    return load_compose(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``services`` mapping of docker-compose.yml."""
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def _validator() -> jsonschema.protocols.Validator:
    """A validator for the vendored Compose Specification (draft 2019-09, as it declares)."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """A service's volume mounts: target path -> (type, source), from short or long syntax."""
    mounts: dict[str, tuple[str, str]] = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            parts = entry.split(":")
            if len(parts) == 1:  # anonymous volume
                mounts[parts[0]] = ("volume", "")
                continue
            source, target = parts[0], parts[1]
            kind = "bind" if source.startswith(("/", ".", "~", "$")) else "volume"
            mounts[target] = (kind, source)
        else:
            mounts[entry["target"]] = (entry["type"], entry.get("source", ""))
    return mounts


def _exec_form_fields(services: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, Any]]:
    """Every (service, field, value) that names a process to run."""
    for name, service in services.items():
        for field in ("command", "entrypoint"):
            if field in service:
                yield name, field, service[field]
        if "test" in service.get("healthcheck", {}):
            yield name, "healthcheck.test", service["healthcheck"]["test"]


def _interpolated(value: Any) -> Iterator[tuple[str, str | None]]:
    """Every variable a compose value interpolates, as (name, default or None), recursively."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _interpolated(item)
    elif isinstance(value, list):
        for item in value:
            yield from _interpolated(item)
    elif isinstance(value, str):
        for match in INTERPOLATION.finditer(value):
            name = match.group(1) or match.group(4)
            default = match.group(3) if match.group(2) in (":-", "-") else None
            yield name, default


def _one_variable(value: Any) -> tuple[str, str | None]:
    """(name, default) of a value that is exactly one ``${NAME:-default}`` reference."""
    match = INTERPOLATION.fullmatch(str(value))
    assert match and match.group(1), f"{value!r} is not one ${{VARIABLE:-default}} reference"
    return match.group(1), match.group(3) if match.group(2) == ":-" else None


def _makefile_torch() -> str:
    """The Makefile's ``TORCH ?= ...`` requirement."""
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    pins: list[str] = re.findall(r"^TORCH\s*\??=\s*(\S+)\s*$", text, flags=re.M)
    assert len(pins) == 1, f"the Makefile sets TORCH {len(pins)} times"
    return pins[0]


def _env_example() -> dict[str, tuple[str, bool]]:
    """.env.example's variables: name -> (value, active); ``# NAME=value`` lines are listed
    but inactive (an optional setting shown at its default)."""
    found: dict[str, tuple[str, bool]] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            assert match.group(2) not in found, f"{match.group(2)} is listed twice"
            found[match.group(2)] = (match.group(3), match.group(1) is None)
    return found


class _RecordingEnv(dict[str, str]):
    """An environment that records every variable looked up in it."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def _settings_variables() -> set[str]:
    """The variables ``Settings.from_env`` reads: looked up at run time, and the same set
    named as string literals in service/settings.py (the two must agree)."""
    env = _RecordingEnv()
    Settings.from_env(env)
    literals = {
        node.value
        for node in ast.walk(ast.parse(SETTINGS_FILE.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"RELUPDE_[A-Z0-9_]+", node.value)
    }
    assert env.read == literals, f"read at run time {sorted(env.read)}, named {sorted(literals)}"
    return env.read


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), comments dropped, continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    assert not pending, "Dockerfile ends in a line continuation"
    return instructions


# -- the Compose Specification ---------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    errors = sorted(_validator().iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_check_rejects_what_compose_rejects(compose: dict[str, Any]) -> None:
    """The vendored schema is strict enough to catch typos (a guard against a vacuous schema)."""
    validator = _validator()
    typo = copy.deepcopy(compose)
    typo["services"]["worker"]["healthcheck"]["intervall"] = "5s"
    bad_command = copy.deepcopy(compose)
    bad_command["services"]["api"]["command"] = 8000
    bad_condition = copy.deepcopy(compose)
    bad_condition["services"]["api"]["depends_on"]["postgres"]["condition"] = "healthy"
    for broken in (typo, bad_command, bad_condition):
        assert list(validator.iter_errors(broken))


# -- services, commands, health --------------------------------------------------------------


def test_the_four_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert set(SERVICES) <= set(services), sorted(services)


def test_every_command_entrypoint_and_healthcheck_is_exec_form(services: dict[str, dict[str, Any]]) -> None:
    seen = 0
    for name, field, value in _exec_form_fields(services):
        seen += 1
        assert isinstance(value, list), f"{name}.{field} is {value!r}: use a list (exec form)"
        assert value and all(isinstance(a, str) for a in value), f"{name}.{field}: {value!r}"
        if field == "healthcheck.test":
            assert value[0] == "CMD", f"{name}.{field} must be ['CMD', ...], not {value[0]!r}"
    assert seen >= 2 * len(SERVICES) - 1  # every relupde service has a command, all have a test


def test_python_healthchecks_compile(services: dict[str, dict[str, Any]]) -> None:
    for name, field, value in _exec_form_fields(services):
        if field == "healthcheck.test" and value[1:3] == ["python", "-c"]:
            compile(value[3], f"<{name} healthcheck>", "exec")


def test_every_service_has_an_enabled_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check.get("disable") is not True and check.get("test"), f"{name}: {check}"


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert isinstance(depends, dict), f"{name}.depends_on must name conditions"
        assert {"postgres", "scheduler"} <= set(depends), f"{name}: {depends}"
        for target, spec in depends.items():
            assert spec["condition"] == "service_healthy", f"{name} -> {target}: {spec}"


class _ParsedError(Exception):
    """Raised in place of running a command once the CLI has parsed its arguments."""

    def __init__(self, namespace: argparse.Namespace) -> None:
        super().__init__(namespace)
        self.namespace = namespace


def _parse_with_relupde_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> argparse.Namespace:
    """What ``relupde ARGV`` parses to, without running it (argparse errors exit with status 2)."""
    from service.cli import main

    parse_args = argparse.ArgumentParser.parse_args

    def parse_and_stop(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> argparse.Namespace:
        raise _ParsedError(parse_args(self, *args, **kwargs))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_and_stop)
    with pytest.raises(_ParsedError) as parsed:
        main(argv)
    return parsed.value.namespace


def test_api_and_worker_commands_are_the_ones_the_cli_offers(monkeypatch: pytest.MonkeyPatch) -> None:
    commands = compose_commands(COMPOSE_FILE)
    assert commands["api"] == API_COMMAND
    assert commands["worker"] == WORKER_COMMAND
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts.get("relupde") == "service.cli:main", scripts
    serve = _parse_with_relupde_cli(commands["api"][1:], monkeypatch)
    assert (serve.command, serve.host, serve.port) == ("serve", "0.0.0.0", 8000), serve
    worker = _parse_with_relupde_cli(commands["worker"][1:], monkeypatch)
    assert worker.command == "worker", worker
    # No --scheduler: the worker takes RELUPDE_DASK_ADDRESS from the environment compose sets.
    assert getattr(worker, "scheduler", None) is None, worker


def test_scheduler_command_is_the_one_distributed_offers() -> None:
    command = compose_commands(COMPOSE_FILE)["scheduler"]
    assert command[:2] == ["dask", "scheduler"], command
    assert entry_points(group="console_scripts", name="dask"), "no `dask` console script installed"
    (subcommand,) = entry_points(group="dask_cli", name="scheduler")
    # click parses the options exactly as `dask scheduler` would; an unknown one raises.
    context = subcommand.load().make_context("dask scheduler", command[2:])
    assert int(context.params["port"]) == 8786 and context.params["dashboard_address"] == ":8787"


def test_compose_commands_rejects_shell_form(tmp_path: Path) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8").replace(
        'command: ["relupde", "worker"]', "command: relupde worker"
    )
    assert text != COMPOSE_FILE.read_text(encoding="utf-8")
    shell_form = tmp_path / "docker-compose.yml"
    shell_form.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="worker"):
        compose_commands(shell_form)


def test_relupde_processes_get_signals(services: dict[str, dict[str, Any]]) -> None:
    for name in ("api", "scheduler", "worker"):
        service = services[name]
        assert service.get("init") is True or "stop_signal" in service, f"{name}: no init process"


def test_two_worker_replicas(services: dict[str, dict[str, Any]]) -> None:
    assert services["worker"]["deploy"]["replicas"] == 2


def test_worker_torch_threads_follow_its_cpu_limit(services: dict[str, dict[str, Any]]) -> None:
    """One variable sets both a worker's CPU limit and its torch threads, with one default."""
    worker = services["worker"]
    cpus = worker["deploy"]["resources"]["limits"]["cpus"]
    threads = _environment(worker)["RELUPDE_TORCH_THREADS"]
    assert _one_variable(threads) == _one_variable(cpus), (threads, cpus)
    _name, default = _one_variable(cpus)
    assert default is not None and default.isdigit() and int(default) >= 1, default
    # The api passes its own RELUPDE_TORCH_THREADS to the jobs it submits to external workers
    # (service/dispatcher.py), so it must carry the workers' value too.
    assert _environment(services["api"]).get("RELUPDE_TORCH_THREADS") == threads


def test_api_is_published_on_8000(services: dict[str, dict[str, Any]]) -> None:
    ports = [
        str(p) if not isinstance(p, dict) else f"{p.get('published')}:{p['target']}"
        for p in services["api"]["ports"]
    ]
    assert any(p.split(":")[-2:] == ["8000", "8000"] for p in ports), ports


def test_api_port_is_published_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    """Plain HTTP stays on the host: other machines reach the API through a TLS proxy."""
    for name, service in services.items():
        for port in service.get("ports", []):
            host_ip = (
                port.get("host_ip")
                if isinstance(port, dict)
                else str(port).rpartition(":")[0].rpartition(":")[0]
            )
            assert host_ip == "127.0.0.1", f"{name} publishes {port!r} beyond loopback"


# -- data, database, scheduler, keys ---------------------------------------------------------


def test_api_and_worker_share_the_data_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    data_dirs = {name: _environment(services[name]).get("RELUPDE_DATA_DIR") for name in ("api", "worker")}
    assert data_dirs["api"] and data_dirs["api"] == data_dirs["worker"], data_dirs
    data_dir = data_dirs["api"]
    api_mount = _mounts(services["api"]).get(data_dir)
    worker_mount = _mounts(services["worker"]).get(data_dir)
    assert api_mount is not None, f"api mounts nothing at RELUPDE_DATA_DIR={data_dir}"
    assert api_mount == worker_mount, (api_mount, worker_mount)
    kind, source = api_mount
    assert kind == "volume" and source in (compose.get("volumes") or {}), f"{api_mount} is no named volume"


def test_postgres_keeps_its_data_in_a_named_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("postgres:16")
    kind, source = _mounts(postgres)["/var/lib/postgresql/data"]
    assert kind == "volume" and source in compose["volumes"]


def test_api_keys_come_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    keys = _environment(services["api"]).get("RELUPDE_API_KEYS", "")
    assert "${RELUPDE_API_KEYS" in keys
    # The whole value is one required-variable reference: no key literal beside it.
    assert re.fullmatch(r"\$\{RELUPDE_API_KEYS:\?[^}]*\}", keys), keys
    for name, service in services.items():
        value = _environment(service).get("RELUPDE_API_KEYS")
        assert value is None or value == keys, f"{name} sets RELUPDE_API_KEYS={value!r}"
    baked = [args for kw, args in _dockerfile_instructions() if kw in ("ENV", "ARG") and "API_KEYS" in args]
    assert not baked, f"the image must not carry keys: {baked}"


def test_no_password_literal_is_committed(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for var, value in _environment(service).items():
            if "PASSWORD" in var or var == "RELUPDE_API_KEYS":
                assert value.startswith("${") and value.endswith("}"), f"{name}: {var}={value!r}"


def test_database_url_points_at_the_postgres_service(services: dict[str, dict[str, Any]]) -> None:
    postgres_env = _environment(services["postgres"])
    for name in ("api", "worker"):
        url = _environment(services[name])["RELUPDE_DATABASE_URL"]
        parts = urlsplit(url)
        assert parts.scheme == "postgresql+psycopg", url
        assert parts.hostname == "postgres" and (parts.port or 5432) == 5432, url
        assert parts.username == postgres_env["POSTGRES_USER"], url
        assert parts.path.lstrip("/") == postgres_env["POSTGRES_DB"], url
        assert parts.password is None, "the password belongs in PGPASSWORD, not in the URL"


def test_dask_address_points_at_the_scheduler_port(services: dict[str, dict[str, Any]]) -> None:
    scheduler = services["scheduler"]["command"]
    port = int(scheduler[scheduler.index("--port") + 1])
    for name in ("api", "worker"):
        address = _environment(services[name])["RELUPDE_DASK_ADDRESS"]
        parts = urlsplit(address)
        assert (parts.scheme, parts.hostname, parts.port) == ("tcp", "scheduler", port), address


# -- .env.example ----------------------------------------------------------------------------


def test_env_example_lists_every_variable_compose_and_the_settings_read(compose: dict[str, Any]) -> None:
    interpolated = {name for name, _default in _interpolated(compose)}
    assert all(name.startswith("RELUPDE_") for name in interpolated), sorted(interpolated)
    expected = interpolated | _settings_variables()
    listed = set(_env_example())
    assert listed == expected, f"missing {sorted(expected - listed)}, unknown {sorted(listed - expected)}"


def test_env_example_comments_every_variable_and_holds_no_secret() -> None:
    lines = [line.strip() for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()]
    assignment = re.compile(r"(#\s*)?([A-Z][A-Z0-9_]*)=.*")
    listed = _env_example()
    for index, line in enumerate(lines):
        match = assignment.fullmatch(line)
        if match:
            above = lines[index - 1] if index else ""
            # A line of prose about the variable, not blank and not another assignment.
            described = above.startswith("#") and len(above) > 2 and not assignment.fullmatch(above)
            assert described, f"{match.group(2)}: no comment above it"
    # The required secrets stay empty: compose refuses to start until they are set.
    for name in REQUIRED_ENV:
        assert listed[name] == ("", True), f"{name}={listed[name][0]!r}: leave it empty in .env.example"
    for name, (value, _active) in listed.items():
        assert not re.search(r"(?i)secret|password=|:[0-9a-f]{16,}", value), f"{name}={value!r}"


def test_env_example_values_are_accepted(monkeypatch: pytest.MonkeyPatch, services: dict[str, Any]) -> None:
    """Every value shown (active or commented out) is one the settings and compose accept."""
    monkeypatch.chdir(REPO_ROOT)
    listed = _env_example()
    names = _settings_variables()
    settings_env = {name: value for name, (value, _a) in listed.items() if value and name in names}
    Settings.from_env(settings_env)
    cpus_var, _default = _one_variable(services["worker"]["deploy"]["resources"]["limits"]["cpus"])
    Settings.from_env({"RELUPDE_TORCH_THREADS": listed[cpus_var][0]})


# -- Dockerfile and .dockerignore ------------------------------------------------------------


def test_dockerfile_base_user_port_and_command() -> None:
    instructions = _dockerfile_instructions()
    froms = [args for kw, args in instructions if kw == "FROM"]
    assert froms and froms[-1].split()[0] == "python:3.11-slim", froms
    users = [args for kw, args in instructions if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert any(kw == "EXPOSE" and "8000" in args.split() for kw, args in instructions)
    cmds = [args for kw, args in instructions if kw == "CMD"]
    assert len(cmds) == 1, cmds
    assert cmds[0].startswith("["), f"CMD {cmds[0]} is shell form; use a JSON array"
    assert json.loads(cmds[0]) == API_COMMAND  # exec form: a JSON array, the api's command
    assert not any(kw == "ENTRYPOINT" and not args.startswith("[") for kw, args in instructions)


def test_dockerfile_installs_cpu_torch_before_the_project() -> None:
    runs = [args for kw, args in _dockerfile_instructions() if kw == "RUN"]
    torch_runs = [i for i, args in enumerate(runs) if re.search(r"pip install .*torch", args)]
    project_runs = [i for i, args in enumerate(runs) if re.search(r"pip install .*\"\.\"", args)]
    assert torch_runs and project_runs, runs
    assert all(f"--index-url {CPU_INDEX}" in runs[i] for i in torch_runs), [runs[i] for i in torch_runs]
    assert max(torch_runs) < min(project_runs), "torch must be installed before the project"


def test_dockerfile_pins_the_torch_of_the_makefile() -> None:
    """The image installs exactly the torch that `make run` / `make test` install."""
    pin = _makefile_torch()
    assert re.fullmatch(r"torch==\d+(\.\d+)*", pin), f"the Makefile's TORCH {pin!r} is no exact pin"
    instructions = _dockerfile_instructions()
    args: dict[str, str] = {}
    installed: list[str] = []
    for kw, rest in instructions:
        if kw == "ARG":
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip().strip('"')
        elif kw == "RUN" and re.search(r"pip install .*torch", rest):
            # ${TORCH} / $TORCH resolved to the ARG's default, as `docker build` does.
            resolved = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), rest)
            command = resolved.split("&&")[0].split()
            reqs = [a.strip('"') for a in command if "torch" in a and not a.startswith("http")]
            installed += reqs
    assert installed == [pin], f"Dockerfile installs {installed}, the Makefile pins {pin}"


def test_dockerfile_healthcheck_asks_healthz_with_python() -> None:
    checks = [args for kw, args in _dockerfile_instructions() if kw == "HEALTHCHECK"]
    assert len(checks) == 1, checks
    _options, _, command = checks[0].partition("CMD ")
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"], argv
    assert "http://127.0.0.1:8000/healthz" in argv[2]
    compile(argv[2], "<Dockerfile HEALTHCHECK>", "exec")


def test_dockerfile_copies_every_package_the_project_installs() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    # packages are found from the tree (packages.find); a subpackage (service.jobs) travels
    # with its top-level folder (service)
    found = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.split(".")[0] for pattern in found}
    copies = [args.split() for kw, args in _dockerfile_instructions() if kw == "COPY"]
    sources = {Path(src).as_posix().rstrip("/") for args in copies for src in args[:-1]}
    if "." not in sources:
        needed = {*packages, "pyproject.toml", pyproject["project"].get("readme", "README.md")}
        assert needed <= sources, f"not copied: {sorted(needed - sources)}"
    for src in sources:
        assert (REPO_ROOT / src).exists(), f"COPY {src}: no such path"


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "relupde-data", "**/__pycache__", ".pytest_cache"} <= patterns, patterns
    # Nothing the image build needs may be ignored.
    assert not patterns & {"pyproject.toml", "README.md", "models", "solver", "service"}


# -- the Compose implementation itself -------------------------------------------------------


def _compose_cli() -> tuple[list[str] | None, str]:
    """The argv prefix of an installed Compose (plugin first, then v1), and what was tried."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return ["docker", "compose"], ""
        plugin = "`docker compose` (docker has no compose plugin)"
    else:
        plugin = "`docker compose` (no docker CLI)"
    if shutil.which("docker-compose"):
        return ["docker-compose"], ""
    return None, f"neither {plugin} nor `docker-compose` (v1) was found"


def _compose_cli_or_skip() -> list[str]:
    cli, missing = _compose_cli()
    if cli is None:
        if os.environ.get("RELUPDE_REQUIRE_COMPOSE") == "1":
            pytest.fail(f"{missing} (RELUPDE_REQUIRE_COMPOSE=1 makes this mandatory)")
        pytest.skip(missing)
    return cli


def _clean_environ() -> dict[str, str]:
    """This process's environment without the variables compose would interpolate."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("RELUPDE_", "COMPOSE_"))}


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    cli = _compose_cli_or_skip()
    # --env-file: a .env beside the compose file must not supply the variables under test
    # (an empty file: compose v1 refuses /dev/null as "not a file").
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    argv = [*cli, "--file", str(COMPOSE_FILE), "--env-file", str(empty_env), "config", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED_ENV and not k.startswith("COMPOSE_")}
    ok = subprocess.run(argv, env={**env, **REQUIRED_ENV}, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    # Without the keys compose refuses, naming the variable.
    without_keys = {**env, "RELUPDE_DB_PASSWORD": REQUIRED_ENV["RELUPDE_DB_PASSWORD"]}
    refused = subprocess.run(argv, env=without_keys, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "RELUPDE_API_KEYS" in refused.stderr, refused.stderr


@pytest.mark.parametrize("cpus", [None, "3"])
def test_docker_compose_gives_workers_threads_equal_to_their_cpus(tmp_path: Path, cpus: str | None) -> None:
    cli = _compose_cli_or_skip()
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    env = {**_clean_environ(), **REQUIRED_ENV, **({"RELUPDE_WORKER_CPUS": cpus} if cpus else {})}
    argv = [*cli, "--file", str(COMPOSE_FILE), "--env-file", str(empty_env), "config"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    resolved = yaml.safe_load(proc.stdout)["services"]
    limit = float(resolved["worker"]["deploy"]["resources"]["limits"]["cpus"])
    assert limit == float(cpus or 2), limit
    for name in ("worker", "api"):
        threads = _environment(resolved[name])["RELUPDE_TORCH_THREADS"]
        assert int(threads) == limit, (name, threads, limit)


def test_docker_compose_reads_env_example_and_refuses_it_unfilled() -> None:
    cli = _compose_cli_or_skip()
    argv = [*cli, "--file", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE), "config", "--quiet"]
    refused = subprocess.run(argv, env=_clean_environ(), capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0, "compose started with .env.example's empty keys"
    assert "RELUPDE_API_KEYS" in refused.stderr or "RELUPDE_DB_PASSWORD" in refused.stderr, refused.stderr
    # Filled in (here from the environment, which compose prefers to the file): accepted.
    filled = subprocess.run(
        argv, env={**_clean_environ(), **REQUIRED_ENV}, capture_output=True, text=True, timeout=120
    )
    assert filled.returncode == 0, filled.stderr
