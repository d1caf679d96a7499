"""The MLFLOW_* environment a run needs while it runs, put back as it was afterwards."""

from __future__ import annotations

import os


class MlflowEnvironment:
    """Set MLflow's client settings for one run without overriding what the user chose.

    Our writer retries with backoff; MLflow's own retries (7 by default, exponential) would
    only delay the moment we notice a dead server. A variable the user set is left alone, and
    :meth:`restore` removes exactly the ones set here.
    """

    def __init__(self) -> None:
        self._set: list[str] = []

    def apply(self, *, request_timeout: float) -> None:
        """Set the run's variables.

        Args:
            request_timeout: seconds one HTTP request may take.
        """
        self._default("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        self._default("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(request_timeout)))
        self._default("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # it garbles our output
        # MLflow prints two "View run / View experiment" lines per run it ends on a server (a
        # password in the URI included, and on the GenAI view): the command prints its own.
        self._default("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

    def restore(self) -> None:
        """Remove the variables :meth:`apply` set."""
        for name in self._set:
            os.environ.pop(name, None)
        self._set.clear()

    def _default(self, name: str, value: str) -> None:
        if name not in os.environ:
            os.environ[name] = value
            self._set.append(name)
