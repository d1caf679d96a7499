"""Readers for the deployment files the tests check: the Dockerfiles, the compose file, pyproject."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
MLFLOW_DOCKERFILE = ROOT / "docker" / "mlflow.Dockerfile"
POSTGRES_DOCKERFILE = ROOT / "docker" / "postgres.Dockerfile"
# The stand-ins for the public base images where no registry is reachable (docker/offline/).
OFFLINE_DOCKERFILES = sorted((ROOT / "docker" / "offline").glob("*.Dockerfile"))
COMPOSE_FILE = ROOT / "docker-compose.yml"
CPU_COMPOSE_FILE = ROOT / "docker-compose.cpu.yml"
CA_HELPER = ROOT / "docker" / "with-ca-certs.sh"
CA_SECRET = "extra_ca_certs"
PYPROJECT = ROOT / "pyproject.toml"

# pip options that take a value (the value is not a requirement).
PIP_VALUE_OPTIONS = {
    "--index-url",
    "-i",
    "--extra-index-url",
    "--find-links",
    "-f",
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "--target",
    "-t",
    "--prefix",
    "--root",
    "--platform",
    "--python-version",
}


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case), its text, and the stage it is in."""

    keyword: str
    args: str
    stage: int


def dockerfile_instructions(path: Path) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, args = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, args.strip(), stage))
    return out


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """The instructions of the last stage (what the image is)."""
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def run_mounts(args: str) -> list[dict[str, str]]:
    """The ``--mount=...`` options at the start of a RUN's text, as dicts (``type`` defaults to bind)."""
    mounts = []
    for word in shlex.split(args):
        if not word.startswith("--"):
            break
        if word.startswith("--mount="):
            fields = dict(field.partition("=")[::2] for field in word[len("--mount=") :].split(","))
            fields.setdefault("type", "bind")
            mounts.append(fields)
    return mounts


def run_command(args: str) -> str:
    """A RUN's shell command, its ``--mount``/``--network``/``--security`` options left out."""
    words = args.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    return " ".join(words)


def pip_commands(instructions: list[Instruction]) -> list[tuple[Instruction, list[str]]]:
    """Every ``pip install`` command line in the RUN instructions (``pip`` may follow a wrapper such
    as ``sh docker/with-ca-certs.sh``), with the instruction it is in, from ``pip`` on."""
    found = []
    for inst in instructions:
        if inst.keyword != "RUN":
            continue
        for command in re.split(r"&&|;|\|\|", run_command(inst.args)):
            words = shlex.split(command)
            names = [Path(w).name for w in words]
            for index, name in enumerate(names[:-1]):
                if name in ("pip", "pip3") and names[index + 1] == "install":
                    found.append((inst, words[index:]))
                    break
    return found


def pip_requirements(instructions: list[Instruction]) -> list[str]:
    """Every requirement argument of every ``pip install`` in the RUN instructions."""
    found: list[str] = []
    for _, words in pip_commands(instructions):
        rest = words[words.index("install") + 1 :]
        skip = False
        for word in rest:
            if skip:
                skip = False
                continue
            if word in PIP_VALUE_OPTIONS:
                skip = True
                continue
            if word.startswith("-"):
                continue
            found.append(word)
    return found


def global_args(path: Path) -> dict[str, str | None]:
    """The ``ARG`` instructions before the first ``FROM`` (the ones ``FROM`` may use), with defaults."""
    found: dict[str, str | None] = {}
    for inst in dockerfile_instructions(path):
        if inst.keyword == "FROM":
            break
        if inst.keyword == "ARG":
            name, sep, default = inst.args.partition("=")
            found[name.strip()] = default.strip() if sep else None
    return found


def build_args(path: Path) -> dict[str, str | None]:
    """Every ``ARG`` of a Dockerfile (global or in a stage), with its default."""
    found: dict[str, str | None] = {}
    for inst in dockerfile_instructions(path):
        if inst.keyword == "ARG":
            name, sep, default = inst.args.partition("=")
            found[name.strip()] = default.strip() if sep else None
    return found


def json_array(args: str) -> list[str]:
    """The exec form of ENTRYPOINT/CMD/VOLUME (``["a", "b"]``) as a list."""
    loaded = yaml.safe_load(args)
    assert isinstance(loaded, list), f"not an exec-form array: {args}"
    return [str(x) for x in loaded]


def env_values(instructions: list[Instruction]) -> dict[str, str]:
    """The ``ENV key=value`` pairs, later ones winning."""
    values: dict[str, str] = {}
    for inst in instructions:
        if inst.keyword == "ENV":
            for word in shlex.split(inst.args):
                key, _, value = word.partition("=")
                values[key] = value
    return values


def pyproject() -> dict[str, Any]:
    """pyproject.toml, parsed."""
    return tomllib.loads(PYPROJECT.read_text())


def pinned(requirements: list[str]) -> dict[str, Requirement]:
    """Requirements by normalized name."""
    out = {}
    for text in requirements:
        req = Requirement(text)
        out[req.name.lower().replace("_", "-")] = req
    return out


def project_requirements() -> dict[str, Requirement]:
    """Every requirement of the project, its extras included, by name."""
    project = pyproject()["project"]
    everything = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        everything.extend(extra)
    return pinned(everything)


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: Any, env: dict[str, str] | None = None) -> Any:
    """Compose's variable interpolation with an empty environment: ``${X:-default}`` becomes the
    default (or ``env[X]``), ``$$`` becomes ``$``; applied through lists and mappings."""
    env = env or {}
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1) or match.group(3)
            return env.get(name, match.group(2) or "")

        return _VAR.sub(repl, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Reset:
    """Compose's ``!reset`` tag: the key is removed from what the earlier files said."""

    value: Any


@dataclass(frozen=True)
class Override:
    """Compose's ``!override`` tag: the value replaces the earlier files' instead of merging."""

    value: Any


class _ComposeLoader(yaml.SafeLoader):
    """A safe YAML loader that knows Compose's merge tags."""


def _tagged(kind: type[Reset] | type[Override]) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Reset | Override:
        if isinstance(node, yaml.ScalarNode):
            return kind(loader.construct_scalar(node) or None)
        if isinstance(node, yaml.SequenceNode):
            return kind(loader.construct_sequence(node, deep=True))
        assert isinstance(node, yaml.MappingNode)
        return kind(loader.construct_mapping(node, deep=True))

    return construct


_ComposeLoader.add_constructor("!reset", _tagged(Reset))
_ComposeLoader.add_constructor("!override", _tagged(Override))


def compose_file(env: dict[str, str] | None = None, path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """A compose file parsed (YAML merge keys applied, ``!reset``/``!override`` as objects) and
    interpolated with its defaults."""
    loaded = yaml.load(path.read_text(), Loader=_ComposeLoader)  # a SafeLoader subclass
    assert isinstance(loaded, dict)
    return interpolate(loaded, env)


def as_list(command: Any) -> list[str]:
    """A compose ``command``/``entrypoint`` (string or list) as a list of words."""
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(c) for c in command]


def option_value(words: list[str], option: str) -> str:
    """The value after ``option`` in a command line (``--opt value`` or ``--opt=value``)."""
    for index, word in enumerate(words):
        if word == option:
            return words[index + 1]
        if word.startswith(option + "="):
            return word.split("=", 1)[1]
    raise AssertionError(f"{option} is not in {words}")
