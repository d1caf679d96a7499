"""docker-compose.yml: it parses, everything it names exists (services, volumes, networks, files,
CLI commands and config overrides, mlflow server flags), and its start order is the safe one.
docker-compose.cpu.yml changes the device and nothing else; build arguments and the CA secret
reach every build with the Dockerfiles' own defaults."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .engine import compose_command
from .files import (
    CA_SECRET,
    COMPOSE_FILE,
    CPU_COMPOSE_FILE,
    ROOT,
    Reset,
    as_list,
    build_args,
    compose_file,
    dockerfile_instructions,
    env_values,
    final_stage,
    global_args,
    json_array,
    option_value,
    pip_requirements,
    run_mounts,
)

TRAINER_IMAGE_DOCKERFILE = "Dockerfile"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_file()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _dockerfile_of(service: dict[str, Any]) -> Path | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return ROOT / build / "Dockerfile"
    return ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


def _trainer_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if _dockerfile_of(s) == ROOT / TRAINER_IMAGE_DOCKERFILE}


def _entrypoint(service: dict[str, Any]) -> list[str]:
    if "entrypoint" in service:
        return as_list(service["entrypoint"])
    dockerfile = _dockerfile_of(service)
    assert dockerfile is not None
    final = final_stage(dockerfile_instructions(dockerfile))
    return json_array([i.args for i in final if i.keyword == "ENTRYPOINT"][-1])


def _cli_commands() -> set[str]:
    from trainer.cli import USAGE

    block = USAGE.split("commands:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1) for m in re.finditer(r"^  (\w[\w-]*)\s", block, flags=re.M)}


def test_the_file_parses_and_has_the_team_services(services: dict[str, dict[str, Any]]) -> None:
    assert {"postgres", "mlflow", "init-db", "init", "trainer", "worker"} <= set(services)


def test_every_reference_exists(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    """depends_on names services, volumes and networks are declared, and every declared one is used."""
    volumes = set(compose.get("volumes") or {})
    networks = set(compose.get("networks") or {})
    used_volumes: set[str] = set()
    used_networks: set[str] = set()
    for name, service in services.items():
        deps = service.get("depends_on") or {}
        for dep, spec in deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps):
            assert dep in services, f"{name} depends on {dep}, which is not a service"
            condition = (spec or {}).get("condition", "service_started")
            assert condition in CONDITIONS, f"{name} -> {dep}: unknown condition {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], (
                    f"{name} waits for {dep} to be healthy; it has no check"
                )
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount["source"]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in volumes, f"{name} mounts volume {source}, not declared"
                used_volumes.add(source)
        service_networks = service.get("networks") or []
        for net in service_networks:
            assert net in networks, f"{name} joins network {net}, not declared"
            used_networks.add(net)
        assert service.get("image") or service.get("build"), f"{name} has neither image nor build"
    assert volumes == used_volumes, f"declared but unused volumes: {volumes - used_volumes}"
    assert networks == used_networks, f"declared but unused networks: {networks - used_networks}"


def test_build_files_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        dockerfile = _dockerfile_of(service)
        if dockerfile is not None:
            assert dockerfile.is_file(), f"{name} builds from {dockerfile}, which does not exist"


def test_start_order(services: dict[str, dict[str, Any]]) -> None:
    """postgres healthy -> init-db done -> mlflow healthy -> init done -> workers: no worker ever
    creates a store, an experiment or the study (done at once by several, that was measured to fail)."""

    def condition(service: str, dep: str) -> str:
        return services[service]["depends_on"][dep]["condition"]

    assert condition("init-db", "postgres") == "service_healthy"
    assert condition("mlflow", "init-db") == "service_completed_successfully"
    assert condition("init", "mlflow") == "service_healthy"
    assert condition("worker", "init") == "service_completed_successfully"
    assert condition("trainer", "mlflow") == "service_healthy"
    for one_shot in ("init-db", "init"):
        assert services[one_shot].get("restart") == "no"
        assert "deploy" not in services[one_shot] or "replicas" not in services[one_shot]["deploy"]


def test_workers_and_trainer_reserve_gpus(services: dict[str, dict[str, Any]]) -> None:
    for name in ("worker", "trainer"):
        devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert any("gpu" in d.get("capabilities", []) and d.get("driver") == "nvidia" for d in devices), name
    assert "container_name" not in services["worker"], "a fixed container name cannot be scaled"
    assert not services["worker"].get("ports"), "published ports cannot be scaled"


def test_mlflow_is_published_on_localhost_only(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def _mlflow_words(services: dict[str, dict[str, Any]]) -> list[str]:
    return as_list(services["mlflow"]["command"])


def test_mlflow_server_flags_exist(services: dict[str, dict[str, Any]]) -> None:
    """Every flag the compose file passes is a flag of this MLflow's ``mlflow server``."""
    from mlflow.cli import server

    known = {opt for param in server.params for opt in (*param.opts, *param.secondary_opts)}
    words = _mlflow_words(services)
    assert words[0] == "server"
    flags = {w.split("=", 1)[0] for w in words if w.startswith("-")}
    assert flags <= known, f"unknown mlflow server flags: {flags - known}"


def test_mlflow_server_settings(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    """A PostgreSQL backend on the postgres service, proxied artifacts on a volume, the service name
    among the allowed hosts, listening on the container port it publishes."""
    words = _mlflow_words(services)
    port = option_value(words, "--port")
    assert option_value(words, "--host") == "0.0.0.0"
    backend = urlsplit(option_value(words, "--backend-store-uri"))
    assert backend.scheme.startswith("postgresql") and backend.hostname == "postgres"
    assert "--serve-artifacts" in words
    destination = option_value(words, "--artifacts-destination")
    mounts = [str(m).split(":", 1) for m in services["mlflow"].get("volumes") or []]
    assert any(target == destination and source in compose["volumes"] for source, target in mounts)
    allowed = option_value(words, "--allowed-hosts").split(",")
    assert "mlflow" in allowed and f"mlflow:{port}" in allowed
    assert any(str(p).endswith(f":{port}") for p in services["mlflow"]["ports"])
    created = as_list(services["init-db"]["command"])
    assert backend.path.lstrip("/") in created, "init-db does not create the MLflow database"


def test_mlflow_image_has_a_postgres_driver(services: dict[str, dict[str, Any]]) -> None:
    dockerfile = _dockerfile_of(services["mlflow"])
    assert dockerfile is not None
    reqs = " ".join(pip_requirements(dockerfile_instructions(dockerfile)))
    assert "psycopg" in reqs


def test_trainer_commands_are_real(services: dict[str, dict[str, Any]]) -> None:
    """Every service on the trainer image runs a `trainer` command that exists, or the init script."""
    commands = _cli_commands()
    for name, service in _trainer_services(services).items():
        entry = _entrypoint(service)
        words = as_list(service.get("command"))
        if entry == ["trainer"]:
            assert words and words[0] in commands, f"{name}: trainer {words[:1]} is not a command"
        else:
            assert entry[0] == "python", f"{name}: entrypoint {entry}"
            final = final_stage(dockerfile_instructions(ROOT / TRAINER_IMAGE_DOCKERFILE))
            copies = {
                i.args.split()[-1]: i.args.split()[0]
                for i in final
                if i.keyword == "COPY" and not i.args.startswith("--from")
            }
            assert entry[1] in copies, f"{name} runs {entry[1]}, which the image does not copy"
            assert (ROOT / copies[entry[1]]).is_file()


def test_overrides_compose(services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The overrides of every trainer command compose against conf/ (sweep ones against sweep.yaml)."""
    from trainer.config.compose import compose_config
    from trainer.sweep.config import load_sweep

    monkeypatch.setenv("HOSTNAME", "worker-1")  # what Docker sets in each container
    final = final_stage(dockerfile_instructions(ROOT / TRAINER_IMAGE_DOCKERFILE))
    assert env_values(final)["TRAINER_CONF_DIR"] == "/opt/trainer/conf"
    checked = 0
    for name, service in _trainer_services(services).items():
        words = as_list(service.get("command"))
        if _entrypoint(service) == ["trainer"] and words[0] == "train":
            composed = compose_config(words[1:])
            assert composed.cfg.logger.tracking_uri.startswith("http://mlflow:"), name
            checked += 1
        elif words and words[0] in ("sweep", "study"):
            settings, _, base = load_sweep(words[1:])
            cfg = compose_config(base).cfg
            assert settings.storage.startswith("postgresql://") and "@postgres:" in settings.storage, name
            assert cfg.logger.tracking_uri.startswith("http://mlflow:"), name
            assert str(cfg.paths.runs_dir) == "runs/worker-1", f"{name}: one run folder per container"
            checked += 1
    assert checked >= 3


def test_init_prepares_exactly_the_workers_study(services: dict[str, dict[str, Any]]) -> None:
    """The init service runs `study` with the workers' own overrides, so it creates their study, and
    init-db creates the database the study lives in."""
    worker = as_list(services["worker"]["command"])
    init = as_list(services["init"]["command"])
    assert worker[0] == "sweep" and init[0] == "study"
    assert init[1:] == worker[1:]
    study = [w for w in worker if w.startswith("sweep.study_name=")]
    assert study and study[0].split("=", 1)[1], "the workers need a fixed sweep.study_name"
    storage = next(w.split("=", 1)[1] for w in worker if w.startswith("sweep.storage="))
    assert urlsplit(storage).path.lstrip("/") in as_list(services["init-db"]["command"])


def test_urls_name_services_on_a_shared_network(services: dict[str, dict[str, Any]]) -> None:
    """Every host in a URL of a command is a service that shares a network with the one using it."""
    for name, service in services.items():
        mine = set(service.get("networks") or ["default"])
        for word in as_list(service.get("command")):
            for url in re.findall(r"[a-z+]+://[^\s,]+", word):
                host = urlsplit(url).hostname
                if host in (None, "0.0.0.0", "127.0.0.1", "localhost"):
                    continue
                assert host in services, f"{name}: {url} names {host}, which is not a service"
                theirs = set(services[host].get("networks") or ["default"])
                assert mine & theirs, f"{name} and {host} share no network"


@pytest.fixture(scope="module")
def cpu_services() -> dict[str, dict[str, Any]]:
    return compose_file(path=CPU_COMPOSE_FILE)["services"]


def test_cpu_override_changes_the_device_only(
    services: dict[str, dict[str, Any]], cpu_services: dict[str, dict[str, Any]]
) -> None:
    """Every service that trains on the GPU in docker-compose.yml is in the CPU override, with the
    same command but `trainer=cpu` (compose replaces a command wholesale, so a drift would
    silently run another search) and its GPU reservation removed with `!reset`."""
    on_gpu = {name for name, s in services.items() if "trainer=gpu" in as_list(s.get("command"))}
    assert on_gpu == set(cpu_services), f"GPU services {on_gpu} vs the override's {set(cpu_services)}"
    for name, override in cpu_services.items():
        assert set(override) <= {"command", "deploy"}, f"{name}: the override also sets {set(override)}"
        base = as_list(services[name]["command"])
        expected = ["trainer=cpu" if word == "trainer=gpu" else word for word in base]
        assert as_list(override["command"]) == expected, f"{name}: the override's command drifted"
        if "deploy" in services[name]:
            assert isinstance(override.get("deploy"), Reset), f"{name}: the GPU reservation stays"


def _build_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s["build"] for name, s in services.items() if isinstance(s.get("build"), dict)}


def test_every_service_image_is_built_from_a_base_argument(services: dict[str, dict[str, Any]]) -> None:
    """No service pulls a fixed image: each is built, and every build argument of its Dockerfile
    (the base image's among them) is passed as ``${SAME_NAME:-<the Dockerfile's default>}``, so
    setting it in .env builds from a local image or another index."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    for name, service in services.items():
        assert isinstance(service.get("build"), dict), f"{name} is not built from a Dockerfile here"
        dockerfile = _dockerfile_of(service)
        assert dockerfile is not None
        defaults = build_args(dockerfile)
        assert set(global_args(dockerfile)) <= set(defaults)
        passed = raw[name]["build"].get("args") or {}
        assert set(passed) == set(defaults), (
            f"{name}: passes {set(passed)}, {dockerfile.name} has {set(defaults)}"
        )
        for arg, default in defaults.items():
            assert passed[arg] == f"${{{arg}:-{default}}}", f"{name}: {arg}={passed[arg]}"


def test_the_ca_secret_reaches_every_build_that_uses_it(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    """Builds whose Dockerfile mounts the CA secret list it; it is a file named by EXTRA_CA_CERTS,
    an empty one (/dev/null) by default, so a build without extra certificates needs nothing."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    assert raw["secrets"][CA_SECRET] == {"file": "${EXTRA_CA_CERTS:-/dev/null}"}
    for name, build in _build_services(services).items():
        dockerfile = _dockerfile_of(services[name])
        assert dockerfile is not None
        uses = any(
            m["type"] == "secret" and m.get("id") == CA_SECRET
            for inst in dockerfile_instructions(dockerfile)
            if inst.keyword == "RUN"
            for m in run_mounts(inst.args)
        )
        listed = CA_SECRET in [s if isinstance(s, str) else s["source"] for s in build.get("secrets") or []]
        assert uses == listed, f"{name}: {dockerfile.name} mounts it: {uses}; the build lists it: {listed}"
    assert any(CA_SECRET in (b.get("secrets") or []) for b in _build_services(services).values())


def _compose_or_skip() -> list[str]:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor a v2 `docker-compose` is installed here")
    return command


def test_docker_compose_config_accepts_it() -> None:
    """Compose's own validator, where Compose v2 is installed: the file alone, and with the CPU
    override, whose merge (by Compose itself) leaves no GPU reservation and no `trainer=gpu`."""
    compose = _compose_or_skip()
    result = subprocess.run(
        [*compose, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    merged = subprocess.run(
        [*compose, "-f", str(COMPOSE_FILE), "-f", str(CPU_COMPOSE_FILE), "--profile", "train", "config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert merged.returncode == 0, merged.stderr
    config = yaml.safe_load(merged.stdout)["services"]
    for name in ("worker", "trainer", "init"):
        assert "deploy" not in config[name], f"{name} still reserves a GPU"
        words = [str(w) for w in config[name]["command"]]
        assert "trainer=cpu" in words and "trainer=gpu" not in words, words
