"""What a finished run leaves behind: figures, the packaged model and the files a logger records.

This layer computes (it drives ``Trainer.predict`` and draws); ``tracking/`` only records.
"""

from trainer.reporting.figures import make_figures
from trainer.reporting.model_package import package_model
from trainer.reporting.outputs import RunOutputs
from trainer.reporting.run_files import record_run_files

__all__ = ["RunOutputs", "make_figures", "package_model", "record_run_files"]
