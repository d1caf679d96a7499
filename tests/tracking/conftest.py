"""Fixtures of the tracking tests: real MLflow stores and servers, nothing mocked.

- ``template_db``: one migrated SQLite store per session. Creating MLflow's tables costs
  about 15 s on this machine; every test copies the migrated file instead (0.2 s).
- ``sqlite_store``: a fresh copy in ``tmp_path`` with the ``trainer`` experiment created up
  front, its artifacts in ``tmp_path/artifacts`` (MLflow would otherwise put them in
  ``./mlruns`` under the working directory).
- ``server_factory``: real ``mlflow server`` subprocesses on free 127.0.0.1 ports, stopped
  (whole process group) at teardown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

EXPERIMENT = "trainer"  # conf/logger/mlflow.yaml's experiment_name
SECRET = "s3cr3t"
SERVER_START_TIMEOUT = 240.0  # seconds; a cold `mlflow server` takes 15-40 s on 2 busy cores


def base_overrides(tracking_uri: str, tmp: Path, *extra: str) -> list[str]:
    """Overrides every tracking test run uses: its own store and runs folder, no progress bar."""
    return [
        f"logger.tracking_uri={tracking_uri}",
        f"paths.runs_dir={tmp / 'runs'}",
        "trainer.accelerator=cpu",
        "callbacks.progress=null",
        *extra,
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric_steps(client: Any, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def list_artifacts(client: Any, run_id: str, path: str | None = None) -> list[str]:
    """Every artifact file of a run, as relative paths."""
    found: list[str] = []
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found.extend(list_artifacts(client, run_id, item.path))
        else:
            found.append(item.path)
    return found


def files_containing(folder: Path, needle: str) -> list[str]:
    """Files under ``folder`` whose bytes contain ``needle`` (binary files included)."""
    raw = needle.encode()
    return [str(p) for p in sorted(folder.rglob("*")) if p.is_file() and raw in p.read_bytes()]


def write_table(path: Path, rows: int = 300) -> Path:
    """A mixed CSV: numbers on very different scales, text categories, a few blanks, binary label.

    The label depends on the text column and the scaled numbers, so a model that skipped the
    one-hot encoding or the scaling would score differently.
    """
    regions = ["north", "south", "east", "west"]
    plans = ["gold", "silver", "bronze"]
    lines = ["id,amount,age,region,plan,label"]
    for i in range(rows):
        amount = (i * 7919) % 10007 / 3.0  # 0 .. 3300
        age = 18 + (i * 31) % 60
        region = regions[(i * 13) % 4]
        plan = plans[(i * 5) % 3]
        score = amount / 1650.0 - 1.0 + (0.9 if region in ("north", "east") else -0.9) + (age - 48) / 30
        label = int(score + ((i * 37) % 11 - 5) / 10 > 0)
        amount_text = "" if i % 29 == 3 else f"{amount:.2f}"
        plan_text = "" if i % 31 == 5 else plan
        lines.append(f"{i},{amount_text},{age},{region},{plan_text},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------- process state
@pytest.fixture(scope="module", autouse=True)
def _restore_environment() -> Iterator[None]:
    """MLflowLogger sets MLFLOW_* defaults in os.environ; leave the process as each module found it."""
    saved = dict(os.environ)
    yield
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture(scope="module", autouse=True)
def _module_cwd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each module runs from a folder of its own: anything MLflow puts in the working directory
    by default (./mlflow.db, ./mlruns) lands there, never in the checkout."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        yield


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One thread: on 2 cores, tiny ops pay more for waking a second thread than they gain."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass
class Store:
    uri: str
    client: Any
    artifacts: Path
    experiment_id: str

    def runs(self) -> list[Any]:
        return list(self.client.search_runs([self.experiment_id], order_by=["attributes.start_time ASC"]))


# ---------------------------------------------------------------------- killed processes
# A process that opens its run and is killed (SIGKILL) the moment the store has made it, before
# the journal notes the run's id: the narrowest window a real kill can land in.
KILLED_AFTER_CREATE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from trainer.tracking.journal import Journal
    from trainer.tracking import MLflowLogger

    real_mark = Journal.mark

    def mark(self, kind, seqs=(), **fields):
        if kind == "run":
            os.kill(os.getpid(), signal.SIGKILL)
        return real_mark(self, kind, seqs, **fields)

    Journal.mark = mark
    logger = MLflowLogger(tracking_uri=sys.argv[1], experiment_name=sys.argv[2], flush_interval=0.05)
    logger.start(run_name="doomed", run_dir=Path(sys.argv[3]))
    """
)


def kill_after_create(uri: str, run_dir: Path) -> None:
    """Run KILLED_AFTER_CREATE against ``uri``: the store gets a run, the journal never its id."""
    done = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_CREATE, uri, EXPERIMENT, str(run_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -9, done.stderr[-3000:]


# ---------------------------------------------------------------------- sqlite stores
def make_store(template: Path, folder: Path) -> Store:
    from mlflow.tracking import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "mlflow.db"
    shutil.copyfile(template, db)
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri)
    artifacts = folder / "artifacts"
    experiment_id = client.create_experiment(EXPERIMENT, artifact_location=str(artifacts))
    return Store(uri=uri, client=client, artifacts=artifacts, experiment_id=experiment_id)


@pytest.fixture
def sqlite_store(template_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A fresh, migrated SQLite store in ``tmp_path``; the test also runs from ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    return make_store(template_db, tmp_path / "store")


@pytest.fixture(scope="module")
def store_factory(template_db: Path) -> Callable[[Path], Store]:
    """For module-scoped runs: ``store_factory(folder)`` makes a fresh store in ``folder``."""
    return lambda folder: make_store(template_db, folder)


# ---------------------------------------------------------------------- mlflow server
class MlflowServer:
    """A real ``mlflow server`` subprocess on 127.0.0.1, stoppable and restartable on its port."""

    def __init__(self, root: Path, template: Path, port: int | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        root.mkdir(parents=True, exist_ok=True)
        self.db = root / "server.db"
        shutil.copyfile(template, self.db)  # migrated already: the server starts faster
        self.artifacts = root / "artifacts"
        self.log_path = root / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def start(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process and return at once (a cold start takes 15-40 s: overlap it with work)."""
        assert self.process is None, "already running"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no job-runner process: starts faster
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            f"sqlite:///{self.db}",
            "--artifacts-destination",
            str(self.artifacts),
            "--workers",
            "1",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Wait until GET /health answers."""
        assert self.process is not None, "launch() first"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"mlflow server exited at start:\n{self._log_tail()}")
            if self.healthy():
                return
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer /health in {timeout:.0f} s:\n{self._log_tail()}")

    def stop(self) -> None:
        """Stop the whole process group (the CLI and its uvicorn worker); wait until the port is free."""
        process, self.process = self.process, None
        if process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(15)
            end = time.monotonic() + 15
            while self.listening() and time.monotonic() < end:
                time.sleep(0.1)
            if process.returncode is not None and not self.listening():
                return

    def listening(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


@pytest.fixture(scope="module")
def server_factory(
    template_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., MlflowServer]]:
    """``server_factory(port=None, start=True)``: a real server; all are stopped at teardown."""
    servers: list[MlflowServer] = []

    def make(port: int | None = None, *, start: bool = True) -> MlflowServer:
        server = MlflowServer(tmp_path_factory.mktemp("server"), template_db, port)
        servers.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in servers:
        server.stop()


# ---------------------------------------------------------------------- callbacks
class KeepModule:
    """A real callback that keeps a reference to the trained module (hooks receive it)."""

    def __init__(self) -> None:
        self.module: Any = None

    def on_fit_end(self, trainer: Any, module: Any) -> None:
        self.module = module
