"""Package a trained network with its preprocessing as an MLflow pyfunc model.

The saved model scores raw table rows: ``mlflow.pyfunc.load_model(uri).predict(frame)``
applies the preprocessing fit on the training split, rebuilds the network from its class
and arguments (the ``trainer`` package travels inside the model as code, so it loads where
``trainer`` is not installed), and returns probabilities and labels, values, or
reconstruction errors.
"""

from __future__ import annotations

import importlib
import json
import logging
import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import torch
from mlflow.pyfunc import PythonModel

from trainer.tracking.mlflow_private import pinned_requirements_without_package_scan

PACKAGES = ("torch", "scikit-learn", "pandas", "numpy", "mlflow")


def pip_requirements() -> list[str]:
    """Pinned requirements of the packaged model (inferring them costs 5-7 s per call)."""
    pins = []
    for package in PACKAGES:
        try:
            version = metadata.version(package).split("+")[0]
        except metadata.PackageNotFoundError:
            continue
        pins.append(f"{package}=={version}")
    return pins


def _build_network(spec: dict[str, Any]) -> torch.nn.Module:
    module_name, _, class_name = spec["target"].rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**spec["kwargs"])


class TabularPyfuncModel(PythonModel):
    """Raw rows in, predictions out. MLflow calls ``load_context`` once, then ``predict``."""

    def load_context(self, context: Any) -> None:
        import joblib

        artifacts = context.artifacts
        self.meta = json.loads(Path(artifacts["meta"]).read_text())
        self.preprocessor = joblib.load(artifacts["preprocessor"])
        self.network = _build_network(self.meta["network"])
        self.network.load_state_dict(torch.load(artifacts["weights"], map_location="cpu", weights_only=True))
        self.network.eval()

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        missing = [c for c in self.meta["columns"] if c not in frame.columns]
        if missing:
            raise ValueError(f"input rows lack the columns {missing}; the model needs {self.meta['columns']}")
        frame = frame[self.meta["columns"]].copy()
        for column in self.meta["numeric"]:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        for column in self.meta["categorical"]:
            frame[column] = frame[column].astype("object").map(lambda v: v if pd.isna(v) else str(v))
        x = torch.as_tensor(np.asarray(self.preprocessor.transform(frame), dtype=np.float32))
        with torch.no_grad():
            out = self.network(x).float()
        return postprocess(out, x, self.meta)


def postprocess(out: torch.Tensor, x: torch.Tensor, meta: dict[str, Any]) -> pd.DataFrame:
    """Network outputs -> a DataFrame a user can read; the run's objective names the columns."""
    module_name, _, class_name = meta["objective"].rpartition(".")
    objective = getattr(importlib.import_module(module_name), class_name)
    frame: pd.DataFrame = objective.prediction_frame(out, x, meta)
    return frame


def save_pyfunc_model(
    path: Path,
    *,
    network: torch.nn.Module,
    network_spec: dict[str, Any],
    preprocessor: Any,
    meta: dict[str, Any],
    input_example: pd.DataFrame,
) -> Path:
    """Write an MLflow model folder at ``path`` with signature and input example.

    Args:
        path: the folder to create.
        network: the trained network; its weights are saved, the module itself is not moved.
        network_spec: ``{"target": "pkg.Class", "kwargs": {...}}`` that rebuilds the network.
        preprocessor: the fitted scikit-learn transformer of raw feature rows.
        meta: task, classes, threshold and the raw columns (numeric and categorical).
        input_example: a few raw rows, stored with the model and used to infer the signature.
    """
    import joblib
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory() as tmp:  # save_model copies the parts into the model folder
        work = Path(tmp)
        torch.save({k: v.detach().cpu() for k, v in network.state_dict().items()}, work / "weights.pt")
        joblib.dump(preprocessor, work / "preprocessor.joblib")
        (work / "meta.json").write_text(json.dumps({**meta, "network": network_spec}))
        artifacts = {
            "weights": str(work / "weights.pt"),
            "preprocessor": str(work / "preprocessor.joblib"),
            "meta": str(work / "meta.json"),
        }
        # Score the example with the packaged parts themselves, so the signature describes
        # what a loaded model really returns.
        probe = TabularPyfuncModel()
        context = SimpleNamespace(artifacts=artifacts)
        probe.load_context(context)
        pyfunc_logger = logging.getLogger("mlflow.pyfunc")
        level = pyfunc_logger.level
        pyfunc_logger.setLevel(logging.ERROR)  # its notes on cloudpickle and validation are noise here
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # MLflow's hint about integer columns
                signature = infer_signature(input_example, probe.predict(context, input_example))
                with pinned_requirements_without_package_scan():  # the pins are the installed versions
                    mlflow.pyfunc.save_model(
                        path=str(path),
                        python_model=TabularPyfuncModel(),
                        artifacts=artifacts,
                        signature=signature,
                        input_example=input_example,
                        pip_requirements=pip_requirements(),
                        code_paths=[str(Path(__file__).resolve().parents[1])],  # the trainer package
                    )
        finally:
            pyfunc_logger.setLevel(level)
    return path
