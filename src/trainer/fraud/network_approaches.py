"""The network approaches: the classifier on raw, class-weighted or resampled training rows, and
the autoencoder on normal training rows. Each trains through the real engine.

An approach is a list of :class:`~trainer.fraud.member_fit.MemberJob` s (its ensemble members,
seeds ``seed, seed+1, ...``), queued on the study's :class:`~trainer.fraud.member_pool.MemberPool`
as soon as the study knows it applies; when its turn comes, the approach waits for its members'
weights, averages their scores and replays the first member's curves into its run.
"""

from __future__ import annotations

import logging
import shutil
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from trainer.data.resample import SAMPLERS
from trainer.errors import ConfigError
from trainer.fraud.member_fit import MemberFit, MemberJob, fitted_module, replay
from trainer.fraud.member_pool import WorkerStopped
from trainer.fraud.networks import MONITOR, network_outputs, network_scores
from trainer.fraud.study_data import ApproachResult, StudyData
from trainer.tracking.base import Logger

log = logging.getLogger(__name__)

#: Widest bottleneck and hidden layer ``auto`` picks for the autoencoder.
MAX_AUTO_CODE, MAX_AUTO_HIDDEN = 16, 64


def _pos_weight(value: Any, labels: torch.Tensor) -> float | None:
    if value is None:
        return None
    if value == "balanced":
        positives = float(labels.sum())
        return (len(labels) - positives) / max(positives, 1.0)
    return float(value)


def _member_cfg(data: StudyData) -> DictConfig:
    """The run config as a member's fit gets it: plain values (a worker process cannot unpickle
    the checked config's generated node types), and no progress bar when several fits run at
    once (their bars would overwrite each other)."""
    values = OmegaConf.to_container(data.cfg, resolve=True)
    cfg = OmegaConf.create(values)
    assert isinstance(cfg, DictConfig)
    if data.pool is not None and data.pool.workers > 1:
        with open_dict(cfg):
            cfg.callbacks.progress = None
    return cfg


def classifier_jobs(data: StudyData, name: str, run_dir: Path) -> tuple[list[MemberJob], dict[str, Any]]:
    """The members of the MLP on raw (``plain``), class-weighted (``weighted``) or resampled rows,
    and the params the approach's run records."""
    x, y = data.tensors["train"]
    sampler = name if name in SAMPLERS else ""
    params: dict[str, Any] = {"approach": name, "sampler": sampler or "none"}
    if sampler:
        rows = data.resampled_rows(sampler)
        x, y = rows.x, rows.y
        params.update({f"resample.{k}": v for k, v in rows.options.items()})
        params.update({"train_rows_before": rows.rows_before, "train_rows_after": len(y)})
    pos_weight = _pos_weight(data.settings.pos_weight, y) if name == "weighted" else None
    params["pos_weight"] = pos_weight if pos_weight is not None else "none"
    params["ensemble"] = data.settings.ensemble
    cfg = _member_cfg(data)
    # Members differ only in their seed (initial weights, dropout, batch order); averaging their
    # probabilities cancels much of one network's seed-to-seed spread in AP.
    jobs = [
        MemberJob(
            kind="classifier",
            cfg=cfg,
            train=(x, y),
            val=data.tensors["val"],
            seed=int(data.cfg.seed) + member,
            # The approach's run folder holds the first member's checkpoint, as its run its curves.
            run_dir=run_dir if member == 0 else run_dir / f"member_{member}",
            patience=data.settings.patience,
            monitor=MONITOR,
            mode="max",
            cardinalities=data.cardinalities,
            pos_weight=pos_weight,
            record=member == 0,
        )
        for member in range(data.settings.ensemble)
    ]
    return jobs, params


def autoencoder_widths(setting: dict[str, Any], width: int) -> dict[str, Any]:
    """The autoencoder's model node with ``auto`` widths set from the input ``width``.

    ``code_size: auto`` is a quarter of the input (2 to 16, below the input); ``hidden_sizes:
    auto`` one layer of half the input (at most 64), between the code and the input. The
    bottleneck is always narrower than the input, or the network could learn the identity.

    Raises:
        ConfigError: a code or hidden layer as wide as the input or wider.
    """
    node = dict(setting)
    if width < 2:
        raise ConfigError(f"The autoencoder needs at least 2 input features; this table has {width}.")
    code = node.get("code_size", "auto")
    code = min(width - 1, max(2, width // 4), MAX_AUTO_CODE) if code == "auto" else int(code)
    if code >= width:
        raise ConfigError(
            f"fraud.autoencoder.model.code_size={code} is not narrower than the {width} input features, "
            f"so the autoencoder could learn to copy its input; set it below {width}, or to auto."
        )
    hidden = node.get("hidden_sizes", "auto")
    if hidden == "auto":
        middle = min(width - 1, max(code + 1, width // 2), MAX_AUTO_HIDDEN)
        hidden = [middle] if middle > code else []
    hidden = [int(h) for h in hidden]
    if any(h >= width for h in hidden):
        raise ConfigError(
            f"fraud.autoencoder.model.hidden_sizes={hidden} has a layer as wide as the {width} input "
            "features or wider; give narrower layers, or auto."
        )
    node.update(code_size=code, hidden_sizes=hidden)
    return node


def autoencoder_jobs(data: StudyData, run_dir: Path) -> tuple[list[MemberJob], dict[str, Any]]:
    """The autoencoder's members, trained on normal training rows only, with their own optimizer
    settings; stopped on normal validation rows' loss (or validation AP, ``select_on=val_ap``)."""
    settings = data.settings.autoencoder
    x, y = data.tensors["train"]
    normal = x[y == 0]  # (normal rows, features): fraud never shapes what "normal" looks like
    val_x, val_y = data.tensors["val"]
    model = OmegaConf.to_container(OmegaConf.create(settings.model), resolve=True)
    assert isinstance(model, dict)
    node = autoencoder_widths({str(k): v for k, v in model.items()}, int(x.shape[1]))
    cfg = _member_cfg(data)
    with open_dict(cfg):
        cfg.optimizer = OmegaConf.merge(cfg.optimizer, settings.optimizer)  # not the classifier's decay
    if settings.select_on == "normal_loss":
        val = (val_x[val_y == 0], torch.zeros(int((val_y == 0).sum())))
        monitor, mode = "val/loss", "min"
    else:
        val, monitor, mode = data.tensors["val"], MONITOR, "max"
    jobs = [
        MemberJob(
            kind="autoencoder",
            cfg=cfg,
            train=(normal, torch.zeros(len(normal))),
            val=val,
            seed=int(data.cfg.seed) + member,
            run_dir=run_dir if member == 0 else run_dir / f"member_{member}",
            patience=data.settings.patience,
            monitor=monitor,
            mode=mode,
            model_node=node,
            noise=settings.noise,
            record=member == 0,
        )
        for member in range(settings.ensemble)
    ]
    params = {
        "approach": "autoencoder",
        "train_rows": len(normal),
        "noise": settings.noise,
        "selected_on": settings.select_on,
        "ensemble": settings.ensemble,
        **{f"model.{k}": v for k, v in node.items() if k != "_target_"},
        **{f"optimizer.{k}": v for k, v in dict(settings.optimizer).items()},
    }
    return jobs, params


def network_jobs(data: StudyData, name: str, run_dir: Path) -> tuple[list[MemberJob], dict[str, Any]]:
    """The members approach ``name`` fits (the autoencoder's or the classifier's)."""
    return autoencoder_jobs(data, run_dir) if name == "autoencoder" else classifier_jobs(data, name, run_dir)


def _fits(
    data: StudyData, name: str, run_dir: Path
) -> tuple[list[MemberJob], list[MemberFit], dict[str, Any]]:
    """The approach's members fitted: queued earlier by the study, or now."""
    if name not in data.pending:
        data.queue(name, *network_jobs(data, name, run_dir))
    jobs, handles, params = data.pending.pop(name)
    try:
        return jobs, [handle.result() for handle in handles], params
    except BrokenProcessPool:
        raise WorkerStopped(
            f"A process fitting the networks of {name} ended abruptly (killed, or out of memory). "
            "fraud.workers=1 fits them in this process."
        ) from None


def keep_checkpoint(path: str, run_dir: Path) -> None:
    """Copy the first member's best checkpoint into the approach's run folder (``checkpoints/``),
    where a ``trainer train`` run keeps its own, unless it was written there."""
    if not path or Path(path).parent == run_dir / "checkpoints":
        return
    target = run_dir / "checkpoints"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, target / Path(path).name)


def normal_error_scale(errors: np.ndarray) -> np.ndarray:
    """Each feature's mean squared error on normal rows, floored at 1% of the features' mean.

    Dividing by it puts every feature's error in units of its usual error, so a feature the
    network always reconstructs loosely (a noisy measurement) does not drown one it always
    gets right (a rare category); the floor keeps a feature that is never wrong from making
    every tiny error huge.
    """
    mean = errors.mean(axis=0)
    return np.maximum(mean, max(float(mean.mean()) * 1e-2, 1e-12))


def run_network(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """A network approach: its members' weights, their averaged scores, the first one's curves."""
    jobs, fits, params = _fits(data, name, run_dir)
    keep_checkpoint(fits[0].best_checkpoint, run_dir)
    replay(fits[0].records, logger)
    modules = [fitted_module(job, fit) for job, fit in zip(jobs, fits, strict=True)]

    autoencoder = name == "autoencoder"
    scale = np.ones(int(data.tensors["val"][0].shape[1]))

    def feature_errors(rows: torch.Tensor) -> np.ndarray:
        # (rows, features): each feature's squared error, averaged over the members, in units
        # of that feature's usual error on normal rows (1 when the scores are not scaled).
        errors = np.mean([(network_outputs(m, rows) - rows).pow(2).numpy() for m in modules], axis=0)
        return errors / scale

    def scores(rows: torch.Tensor) -> np.ndarray:
        if autoencoder:
            return feature_errors(rows).mean(axis=1)
        return np.mean([network_scores(module, rows) for module in modules], axis=0)

    def score_frame(frame: pd.DataFrame) -> np.ndarray:
        return scores(data.transform(frame))

    if autoencoder and data.settings.autoencoder.score == "scaled":
        val_x, val_y = data.tensors["val"]
        scale = normal_error_scale(feature_errors(val_x[val_y == 0]))
        params["score"] = "scaled"
    best = [fit.best_score for fit in fits if fit.best_score is not None]
    params["epochs"] = ",".join(str(fit.epochs) for fit in fits)
    return ApproachResult(
        name=name,
        family="anomaly" if autoencoder else "network",
        sampler=name if name in SAMPLERS else "",
        val_scores=scores(data.tensors["val"][0]),
        test_scores=scores(data.tensors["test"][0]),
        score_frame=score_frame,
        feature_errors=feature_errors if autoencoder else None,
        params=params,
        best_score=float(np.mean(best)) if best else None,
        selected_on=str(params["selected_on"]) if autoencoder else "val_ap",
    )
