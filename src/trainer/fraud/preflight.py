"""What the study checks once the data is loaded and before anything trains or any folder exists.

The networks, their Trainer and its callbacks are built once, so a model, optimizer or Trainer
option that is wrong stops the study before the first approach trains. Then each approach is
asked whether it applies to this table: a sampler resamples the training rows now (its approach
trains on those rows later), and one that cannot (SMOTENC on a table without categorical
columns, fewer fraud rows than its neighbours need) is skipped with the reason, as is an anomaly
detector without normal training rows. The other approaches run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from trainer.data.resample import SAMPLERS
from trainer.errors import DataError
from trainer.fraud.approaches import runner_for
from trainer.fraud.member_fit import member_data, member_module
from trainer.fraud.network_approaches import network_jobs, run_network
from trainer.fraud.networks import network_trainer
from trainer.fraud.study_data import StudyData
from trainer.fraud.thresholds import ThresholdSelector
from trainer.tracking.base import NullLogger

log = logging.getLogger(__name__)

#: Approaches that learn "normal" from the normal training rows only.
ANOMALY_APPROACHES = ("autoencoder", "isolation_forest", "lof", "knn", "pca")


def check_before_training(data: StudyData, *, applies: Callable[[str], None] | None = None) -> dict[str, str]:
    """Build what the approaches will train and decide which approaches apply to the table.

    Args:
        data: the loaded study data; the samplers' training rows are kept in it.
        applies: called with each approach that applies, as soon as that is known (after the
            checks of every setting, network and Trainer).

    Returns:
        Approach -> why it is skipped (one line each, also logged as a warning).

    Raises:
        UserError: an option of the networks or their Trainer is wrong, or no approach applies.
    """
    approaches = data.settings.approaches
    networks = [a for a in approaches if runner_for(a) is run_network]
    # The classifier as every classifier approach builds it (pos_weight aside), the autoencoder.
    for name in sorted({"autoencoder" if a == "autoencoder" else "plain" for a in networks}):
        jobs, _ = network_jobs(data, name, Path("."))
        member_module(jobs[0], member_data(jobs[0]))
    if networks:
        network_trainer(data.cfg, run_dir=Path("."), logger=NullLogger(), patience=data.settings.patience)
    _warn_if_the_threshold_flags_every_row(data)
    skipped = {}
    for name in approaches:
        reason = _why_it_does_not_apply(data, name)
        if reason:
            log.warning("Skipping %s: %s", name, reason)
            skipped[name] = reason
        elif applies is not None:
            applies(name)  # the study queues its networks now, while the next sampler resamples
    if len(skipped) == len(approaches):
        reasons = " ".join(f"{name}: {reason}" for name, reason in skipped.items())
        raise DataError(f"None of fraud.approaches applies to this table. {reasons}")
    return skipped


def _why_it_does_not_apply(data: StudyData, name: str) -> str | None:
    if name in SAMPLERS:
        try:
            data.resampled_rows(name)
        except DataError as exc:
            return str(exc)
    if name in ANOMALY_APPROACHES and not (data.labels("train") == 0).any():
        return "the training split has no normal rows to learn normal from."
    return None


def _warn_if_the_threshold_flags_every_row(data: StudyData) -> None:
    """Said now, before minutes of training, as well as when each approach's threshold is chosen."""
    options = data.settings.threshold
    rows = len(data.labels("val"))
    if "top_k" in (options.rule, options.anomaly_rule) and options.k >= rows:
        log.warning("%s", ThresholdSelector(rule="top_k", k=options.k).every_row_flagged(rows))
