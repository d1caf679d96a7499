"""A Docker engine for the tests that build and run the images (marked ``docker``).

They build a 6 GB image, so they run only when asked for: ``pytest -m docker tests/deploy`` or
``TRAINER_DOCKER_TESTS=1``. Then they skip, with the reason, where no engine answers, where no
docker CLI can build with BuildKit (the Dockerfiles mount a build secret), or where a base image
cannot be had (no registry and no local copy); they fail only when a build or a run fails.

Settings (environment):
    TRAINER_TEST_PYTHON_IMAGE    base of the trainer and MLflow images (default: the Dockerfiles')
    TRAINER_TEST_POSTGRES_IMAGE  base of the PostgreSQL image (default: docker/postgres.Dockerfile's)
    EXTRA_CA_CERTS               a PEM file of extra CA certificates for pip, passed as the build
                                 secret ``extra_ca_certs`` (as docker-compose.yml does)
    TRAINER_TEST_DOCKER          the docker CLI to use (default: the first on PATH that can use BuildKit)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .files import CA_SECRET, DOCKERFILE, POSTGRES_DOCKERFILE, global_args

OPT_IN = "TRAINER_DOCKER_TESTS"


def opted_in(config: pytest.Config) -> bool:
    """Whether this session asked for the Docker tests (``-m`` naming ``docker``, or the variable)."""
    marks = str(config.getoption("markexpr", "") or "")
    return os.environ.get(OPT_IN) == "1" or ("docker" in marks and "not docker" not in marks)


def _major(version: str) -> int:
    head = version.strip().split(".")[0]
    return int(head) if head.isdigit() else 0


def _docker_clis() -> list[str]:
    """Every docker CLI to try: TRAINER_TEST_DOCKER, then each ``docker`` on PATH in order."""
    found = [os.environ["TRAINER_TEST_DOCKER"]] if os.environ.get("TRAINER_TEST_DOCKER") else []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / "docker"
        if candidate.is_file() and os.access(candidate, os.X_OK) and str(candidate) not in found:
            found.append(str(candidate))
    return found


@dataclass(frozen=True)
class Engine:
    """A docker CLI whose engine answers, and the environment that makes it build with BuildKit."""

    cli: str
    server_version: str
    env: dict[str, str] = field(default_factory=dict)

    def run(
        self, args: list[str], *, timeout: float, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.cli, *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )


def find_engine() -> Engine:
    """The engine, or a skip with the reason."""
    clis = _docker_clis()
    if not clis:
        pytest.skip("no docker CLI on this machine")
    info = subprocess.run(
        [clis[0], "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, timeout=60
    )
    if info.returncode != 0 or not info.stdout.strip():
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.skip(f"no Docker engine answers here: {reason}")
    for cli in clis:
        buildx = subprocess.run([cli, "buildx", "version"], capture_output=True, text=True, timeout=60)
        if buildx.returncode == 0:
            return Engine(cli, info.stdout.strip())
        client = subprocess.run(
            [cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True, timeout=60
        )
        # Before Engine 23 the CLI has BuildKit built in, switched on by DOCKER_BUILDKIT=1.
        if 18 <= _major(client.stdout) < 23:
            return Engine(cli, info.stdout.strip(), {"DOCKER_BUILDKIT": "1"})
    pytest.skip(
        f"no docker CLI here can build with BuildKit (tried {', '.join(clis)}): install the buildx "
        "plugin, or name a CLI of Engine 18.09-22 in TRAINER_TEST_DOCKER"
    )


def base_image(engine: Engine, variable: str, dockerfile: Path, arg: str) -> str:
    """The base image ``variable`` names (default: the Dockerfile's), present locally or pulled;
    a skip with the reason where it cannot be had."""
    image = os.environ.get(variable) or global_args(dockerfile)[arg] or ""
    if engine.run(["image", "inspect", image], timeout=60).returncode == 0:
        return image
    try:
        pulled = engine.run(["pull", image], timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip(
            f"the base image {image} cannot be had: `docker pull` did not finish in 300 s; {variable}=..."
        )
    if pulled.returncode != 0:
        reason = (pulled.stderr.strip().splitlines() or ["no reason given"])[-1][:200]
        pytest.skip(
            f"the base image {image} cannot be had ({reason}); name a local one in {variable} "
            "(docker/offline/make-bases.sh makes them)"
        )
    return image


def python_base(engine: Engine) -> str:
    return base_image(engine, "TRAINER_TEST_PYTHON_IMAGE", DOCKERFILE, "PYTHON_IMAGE")


def postgres_base(engine: Engine) -> str:
    return base_image(engine, "TRAINER_TEST_POSTGRES_IMAGE", POSTGRES_DOCKERFILE, "POSTGRES_IMAGE")


def secret_args() -> list[str]:
    """``--secret`` for EXTRA_CA_CERTS, where it names a file."""
    path = os.environ.get("EXTRA_CA_CERTS")
    return ["--secret", f"id={CA_SECRET},src={path}"] if path else []


def compose_command() -> list[str] | None:
    """Compose v2: ``docker compose`` (the plugin) or a standalone v2 ``docker-compose``; None if neither."""
    candidates: list[list[str]] = [[cli, "compose"] for cli in _docker_clis()[:1]]
    standalone = shutil.which("docker-compose")
    if standalone:
        candidates.append([standalone])
    for command in candidates:
        try:
            probe = subprocess.run(
                [*command, "version", "--short"], capture_output=True, text=True, timeout=30
            )
        except OSError:
            continue
        if probe.returncode == 0 and _major(probe.stdout.lstrip("v")) >= 2:
            return command
    return None
