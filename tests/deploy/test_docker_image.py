"""Build the images and run them, with a Docker engine (only when asked for: see engine.py).

The trainer image is built from the working tree on the base TRAINER_TEST_PYTHON_IMAGE names
(default: the Dockerfile's), trains one epoch on CPU as its non-root user, and keeps the run on
its volume. The MLflow image is built with a throwaway CA certificate in the build secret, and
no layer of its own holds it."""

from __future__ import annotations

import json
import os
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .certs import self_signed_ca
from .engine import Engine, find_engine, python_base, secret_args
from .files import CA_SECRET, MLFLOW_DOCKERFILE, ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CERT_VARIABLES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return find_engine()


def _build(engine: Engine, tag: str, dockerfile: Path, base: str, extra: list[str]) -> tuple[float, str]:
    """docker build from the project; fails with the log's tail when the build fails.
    Returns the seconds it took and its log."""
    start = time.monotonic()
    built = engine.run(
        [
            "build",
            "--progress=plain",
            "-f",
            str(dockerfile),
            "--build-arg",
            f"PYTHON_IMAGE={base}",
            *extra,
            "-t",
            tag,
            str(ROOT),
        ],
        timeout=3600,
    )
    assert built.returncode == 0, f"docker build {dockerfile.name} failed:\n{built.stderr[-6000:]}"
    return time.monotonic() - start, built.stdout + built.stderr


def _size_gb(engine: Engine, tag: str) -> float:
    size = engine.run(["image", "inspect", "--format", "{{.Size}}", tag], timeout=60, check=True)
    return int(size.stdout.strip()) / 1e9


def _env(engine: Engine, tag: str) -> list[str]:
    found = engine.run(["image", "inspect", "--format", "{{json .Config.Env}}", tag], timeout=60, check=True)
    return list(json.loads(found.stdout))


@pytest.fixture()
def cleanup(engine: Engine) -> Iterator[list[list[str]]]:
    """Commands (docker arguments) run at the end whatever happened: image and volume removal."""
    todo: list[list[str]] = []
    yield todo
    for args in todo:
        engine.run(args, timeout=300)


def test_build_and_train_one_epoch(engine: Engine, cleanup: list[list[str]]) -> None:
    """docker build, then `trainer train trainer=cpu trainer.max_epochs=1` in the image as uid 1000,
    with its working folder on a fresh volume that holds the run and mlflow.db afterwards."""
    base = python_base(engine)
    tag = f"trainer-test:{uuid.uuid4().hex[:8]}"
    volume = f"trainer-test-{uuid.uuid4().hex[:8]}"
    cleanup += [["volume", "rm", "-f", volume], ["image", "rm", "-f", tag]]
    seconds, _ = _build(engine, tag, ROOT / "Dockerfile", base, secret_args())
    print(f"\nmeasured: trainer image on {base}: built in {seconds:.0f} s, {_size_gb(engine, tag):.2f} GB")
    assert not [e for e in _env(engine, tag) if e.split("=", 1)[0] in CERT_VARIABLES]

    start = time.monotonic()
    run = engine.run(
        ["run", "--rm", "-v", f"{volume}:/workspace", tag, "train", "trainer=cpu", "trainer.max_epochs=1"],
        timeout=900,
    )
    seconds = time.monotonic() - start
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Run saved to runs/" in run.stdout
    print(f"measured: `trainer train trainer=cpu trainer.max_epochs=1` in the container: {seconds:.0f} s")
    listing = engine.run(
        [
            "run",
            "--rm",
            "-v",
            f"{volume}:/workspace",
            "--entrypoint",
            "sh",
            tag,
            "-c",
            "id -u; ls -n /workspace",
        ],
        timeout=120,
        check=True,
    )
    uid, *entries = listing.stdout.splitlines()
    assert uid == "1000", f"the image runs as uid {uid}"
    names = {line.split()[-1]: line.split()[2] for line in entries if line.count(" ") >= 8}
    assert {"runs", "mlflow.db"} <= set(names), listing.stdout
    assert names["runs"] == "1000" and names["mlflow.db"] == "1000", listing.stdout


def _layer_texts(archive: Path, skip: int) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of every regular file in the layers of a `docker save` archive after the
    first ``skip`` (the base image's)."""
    with tarfile.open(archive) as saved:
        manifest = saved.extractfile("manifest.json")
        assert manifest is not None
        layers = json.load(manifest)[0]["Layers"][skip:]
        for layer in layers:
            member = saved.extractfile(layer)
            assert member is not None
            with tarfile.open(fileobj=member) as files:
                for entry in files:
                    if entry.isfile():
                        content = files.extractfile(entry)
                        assert content is not None
                        yield entry.name, content.read()


def test_mlflow_image_keeps_no_certificate(engine: Engine, cleanup: list[list[str]], tmp_path: Path) -> None:
    """Built with a fresh CA certificate (plus EXTRA_CA_CERTS, where set) in the build secret: the
    build trusts it, and no layer the Dockerfile adds holds it, nor the helper script; the image
    serves `mlflow` as uid 1000."""
    base = python_base(engine)
    marker = self_signed_ca(tmp_path / "test-ca.pem")
    secret = tmp_path / "extra-ca.pem"
    extra = os.environ.get("EXTRA_CA_CERTS")
    secret.write_text((Path(extra).read_text() if extra else "") + marker.read_text())
    tag = f"trainer-mlflow-test:{uuid.uuid4().hex[:8]}"
    cleanup.append(["image", "rm", "-f", tag])
    seconds, log = _build(
        engine, tag, MLFLOW_DOCKERFILE, base, ["--no-cache", "--secret", f"id={CA_SECRET},src={secret}"]
    )
    assert f"trusting {secret.read_text().count('BEGIN CERTIFICATE')} extra CA certificate(s)" in log
    print(f"\nmeasured: MLflow image on {base}: built in {seconds:.0f} s, {_size_gb(engine, tag):.2f} GB")
    assert not [e for e in _env(engine, tag) if e.split("=", 1)[0] in CERT_VARIABLES]

    served = engine.run(
        ["run", "--rm", "--entrypoint", "sh", tag, "-c", "id -u; mlflow --version"], timeout=300
    )
    assert served.returncode == 0, served.stderr[-3000:]
    assert served.stdout.splitlines()[0] == "1000"

    base_layers = engine.run(["image", "inspect", "--format", "{{len .RootFS.Layers}}", base], timeout=60)
    archive = tmp_path / "image.tar"  # about 1.2 GB: removed at the end
    try:
        saved = engine.run(["save", "-o", str(archive), tag], timeout=900)
        assert saved.returncode == 0, f"docker save failed (disk space?): {saved.stderr[-2000:]}"
        body = [line for line in marker.read_text().splitlines() if not line.startswith("-----")]
        needle = max(body, key=len).encode()
        leaks = [name for name, data in _layer_texts(archive, int(base_layers.stdout)) if needle in data]
        assert not leaks, f"the build secret's certificate is in the image: {leaks}"
        names = [name for name, _ in _layer_texts(archive, int(base_layers.stdout))]
    finally:
        archive.unlink(missing_ok=True)
    assert any("site-packages/mlflow/" in name for name in names), "the scan missed the image's own layers"
    assert not [n for n in names if "with-ca-certs" in n], "the helper script is in a layer"
