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
COMPOSE_FILE = ROOT / "docker-compose.yml"
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


def pip_requirements(instructions: list[Instruction]) -> list[str]:
    """Every requirement argument of every ``pip install`` in the RUN instructions."""
    found: list[str] = []
    for inst in instructions:
        if inst.keyword != "RUN":
            continue
        for command in re.split(r"&&|;|\|\|", inst.args):
            words = shlex.split(command)
            if "pip" not in [Path(w).name for w in words[:3]] or "install" not in words:
                continue
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


def compose_file(env: dict[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml parsed (YAML merge keys applied) and interpolated with its defaults."""
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
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
