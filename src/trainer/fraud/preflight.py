"""What the study checks once the data is loaded and before anything trains or any folder exists.

The networks, their Trainer and its callbacks are built once, so a model, optimizer or Trainer
option that is wrong stops the study before the first approach trains.
"""

from __future__ import annotations

import logging
from pathlib import Path

from trainer.build import build_module_with
from trainer.fraud.approaches import StudyData, autoencoder_module, network_data, run_classifier, runner_for
from trainer.fraud.networks import network_trainer
from trainer.fraud.thresholds import ThresholdSelector
from trainer.tasks import BinaryObjective
from trainer.tracking.base import NullLogger

log = logging.getLogger(__name__)


def check_before_training(data: StudyData) -> None:
    """Build what the approaches will train, once, to check every option it reads.

    Args:
        data: the loaded study data.

    Raises:
        UserError: an option of the networks or their Trainer is wrong.
    """
    approaches = data.settings.approaches
    networks = [a for a in approaches if runner_for(a) is run_classifier]
    if networks:  # the classifier as every network approach builds it (pos_weight aside)
        build_module_with(data.cfg, network_data(data, data.tensors["train"]), BinaryObjective())
    if "autoencoder" in approaches:
        autoencoder_module(data)
    if networks or "autoencoder" in approaches:
        network_trainer(data.cfg, run_dir=Path("."), logger=NullLogger(), patience=data.settings.patience)
    _warn_if_the_threshold_flags_every_row(data)


def _warn_if_the_threshold_flags_every_row(data: StudyData) -> None:
    """Said now, before minutes of training, as well as when each approach's threshold is chosen."""
    options = data.settings.threshold
    rows = len(data.labels("val"))
    if "top_k" in (options.rule, options.anomaly_rule) and options.k >= rows:
        log.warning("%s", ThresholdSelector(rule="top_k", k=options.k).every_row_flagged(rows))
