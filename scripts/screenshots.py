"""Take the README's MLflow screenshots in headless Chromium, from runs this script makes.

It trains a run, sweeps a small study and runs a small fraud study into one fresh SQLite store,
serves it with ``mlflow server`` on 127.0.0.1, and photographs, with a fresh browser profile (no
remembered view), exactly the addresses the commands printed: so the pictures show what a new
user lands on. The pages are opened in MLflow's training view, as every printed address asks.

    .venv/bin/python scripts/screenshots.py                   # docs/mlflow_ui_{run,curves,sweep,fraud}.png
    .venv/bin/python scripts/screenshots.py --out /tmp/shots  # elsewhere

Needs Chromium (Debian: ``apt-get install chromium``; or ``--chromium PATH``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINER = [sys.executable, "-m", "trainer.cli"]
MLFLOW_SERVER = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    # Wide: MLflow 3.17 opens its assistant panel on the right for a new visitor.
    parser.add_argument("--width", type=int, default=1800)
    parser.add_argument("--height", type=int, default=1100)
    args = parser.parse_args()
    if not args.chromium:
        sys.exit("Chromium is needed: apt-get install chromium, or pass --chromium PATH.")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as folder:
        work = Path(folder)
        store = f"sqlite:///{work / 'mlflow.db'}"
        common = [f"logger.tracking_uri={store}", f"paths.runs_dir={work / 'runs'}"]
        trained = _run([*TRAINER, "train", "data=breast_cancer", *common], work)
        pages = {
            "run": _address(trained),
            "curves": _address(trained, prefix="curves"),
            "sweep": _address(
                _run(
                    [
                        *TRAINER,
                        "sweep",
                        "hparams_search=mlp",
                        "data=digits",
                        "sweep.n_trials=8",
                        "trainer.max_epochs=8",
                        f"sweep.storage=sqlite:///{work / 'optuna.db'}",
                        *common,
                    ],
                    work,
                )
            ),
            "fraud": _address(
                _run(
                    [
                        *TRAINER,
                        "fraud",
                        "fraud.approaches=[no_skill,plain,weighted,smote,autoencoder,hgb,isolation_forest]",
                        "fraud.ensemble=1",
                        *common,
                    ],
                    work,
                )
            ),
        }
        port = _free_port()
        server = subprocess.Popen(
            [*MLFLOW_SERVER, "--port", str(port), "--backend-store-uri", store, "--workers", "1"],
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )
        try:
            _wait(f"http://127.0.0.1:{port}/health")
            for name, address in pages.items():
                # The printed address is for `mlflow ui` on its default port: this server's port instead.
                url = address.replace("http://127.0.0.1:5000", f"http://127.0.0.1:{port}")
                target = args.out / f"mlflow_ui_{name}.png"
                # The charts page fetches every run's metric history before it draws: more time.
                budget = 60_000 if name == "curves" else 20_000
                _shoot(args.chromium, url, target, work / f"profile-{name}", args.width, args.height, budget)
                print(f"{target}  <-  {address}")
        finally:
            server.terminate()
            server.wait(30)


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[2:4])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _address(printed: str, prefix: str = "open") -> str:
    """The last address the command printed on a ``<prefix>:`` line (``open``: its own run, the
    line every command ends with; ``curves``: the experiment's chart view of learning curves)."""
    found = re.findall(rf"^\s*{prefix}: (\S+)$", printed, re.MULTILINE)
    if not found:
        sys.exit(f"no run address in the command's output:\n{printed[-2000:]}")
    return str(found[-1])


def _shoot(
    chromium: str, url: str, target: Path, profile: Path, width: int, height: int, budget: int
) -> None:
    command = [
        chromium,
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",  # a fresh profile: no view remembered from an earlier visit
        f"--window-size={width},{height}",
        f"--virtual-time-budget={budget}",  # let the page's scripts fetch and draw the run
        f"--screenshot={target}",
        url,
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=180)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"mlflow server did not answer {url} in {timeout:.0f} s")


if __name__ == "__main__":
    main()
