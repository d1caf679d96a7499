"""The fraud study: every configured approach on the same splits, thresholds from validation,
test metrics side by side, one MLflow parent run with a child run per approach.

Flow: compose ``conf/fraud.yaml`` (every setting checked) -> datamodule (split, preprocessing
fit on training rows) -> the networks built, the samplers' rows made and the approaches that do
not apply to the table skipped (``preflight``), all before the study folder exists ->
for each approach: train on training rows (resampled ones for a sampler), score validation
and test -> threshold from validation -> metrics on test -> report and explanations.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf, open_dict

from trainer.build import build_logger, build_tabular_datamodule
from trainer.config.compose import ComposedConfig, conf_dir
from trainer.config.validate import validate_config
from trainer.data.feature_layout import FeatureLayout
from trainer.data.resample import SAMPLERS, Resampler, check_sampler_name
from trainer.engine.device import resolve_device
from trainer.engine.seed import seed_everything
from trainer.errors import DataError
from trainer.fraud import explain, report
from trainer.fraud.approaches import runner_for
from trainer.fraud.member_pool import MemberPool, choose_workers
from trainer.fraud.metrics import score_metrics, validation_log_loss
from trainer.fraud.network_approaches import network_jobs, run_network
from trainer.fraud.parent_description import study_description
from trainer.fraud.preflight import check_before_training
from trainer.fraud.progress import StudyProgress
from trainer.fraud.selection import best_network
from trainer.fraud.settings import FraudSettings, read_settings
from trainer.fraud.study_data import ApproachResult, StudyData
from trainer.fraud.thresholds import ThresholdSelector
from trainer.reporting.run_description import DESCRIPTION_TAG
from trainer.run_dir import held_log_records, log_to_file
from trainer.tasks import BinaryObjective, objective_class
from trainer.tracked_run import RunFolder, TrackedRun, tracked_run
from trainer.tracking.params import flatten_config, run_params

log = logging.getLogger(__name__)


@dataclass
class StudyResult:
    """What a finished study gives back.

    Attributes:
        where: what the command prints at its end about the study's folder and parent run
            (:meth:`~trainer.tracked_run.TrackedRun.where_lines`).
        skipped: the approaches that do not apply to the table, each with the reason; they are
            not in ``table``.
    """

    table: pd.DataFrame
    run_dir: Path
    parent_run_id: str | None
    child_run_ids: dict[str, str | None] = field(default_factory=dict)
    importance: pd.DataFrame | None = None
    flagged: pd.DataFrame | None = None
    where: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # approach -> why it did not apply


# ---------------------------------------------------------------------- config
def split_config(cfg: DictConfig) -> tuple[DictConfig, FraudSettings, dict[str, dict[str, Any]]]:
    """The run config (validated like ``trainer train``'s), the fraud settings, the sampler options."""
    cfg = cfg.copy()
    with open_dict(cfg):
        fraud_node = cfg.pop("fraud", None)
        selected = cfg.pop("resample", None)
    settings = read_settings(fraud_node)
    run_cfg = validate_config(cfg)
    resample: dict[str, dict[str, Any]] = {}
    for name in [a for a in settings.approaches if a in SAMPLERS]:
        path = conf_dir() / "resample" / f"{name}.yaml"
        node = OmegaConf.load(path) if path.is_file() else OmegaConf.create({"name": name})
        # resample=<name> with overrides on the command line wins over that sampler's file.
        if selected and selected.get("name") == name:
            node = selected
        options = OmegaConf.to_container(node, resolve=True)
        assert isinstance(options, dict)
        check_sampler_name(str(options.pop("name", name)))
        options.pop("random_state", None)  # the run's seed is used
        resample[name] = {str(k): v for k, v in options.items()}
        Resampler.from_options({**resample[name], "name": name}, random_state=None)  # checks every value
    return run_cfg, settings, resample


def load_study_data(
    cfg: DictConfig, settings: FraudSettings, resample: dict[str, dict[str, Any]]
) -> StudyData:
    """Build the datamodule once and check that the target suits a fraud study.

    Raises:
        DataError: a target that is not binary, or no fraud rows in the training or validation split.
    """
    datamodule = build_tabular_datamodule(cfg)
    table = datamodule.raw_table()
    assert table is not None  # build_tabular_datamodule refuses data that is not a table
    binary = issubclass(objective_class(datamodule.task), BinaryObjective)
    if not binary or len(datamodule.classes_) != 2:
        raise DataError(
            f"trainer fraud needs a binary target; data.target={table.target!r} has "
            f"{len(datamodule.classes_)} classes ({', '.join(map(str, datamodule.classes_[:5]))}). "
            "Pick a 0/1 column with data.target=<column>, or set data.task=binary."
        )
    tensors = {split: datamodule.tensors(split) for split in ("train", "val", "test")}
    for split in ("train", "val", "test"):
        labels = tensors[split][1]
        frauds = int(labels.sum())
        if split != "test" and frauds == 0:
            raise DataError(
                f"The {split} split has no fraud rows (class {datamodule.classes_[1]!r}) among its "
                f"{len(labels)} rows; the study cannot {'train' if split == 'train' else 'set thresholds'} "
                "without them. Use data.split=stratified, or give the split more rows (data.val_fraction)."
            )
        log.info(
            "%s: %d rows, %d fraud (%.2f%%)", split, len(labels), frauds, 100 * frauds / max(len(labels), 1)
        )
    return StudyData(
        cfg=cfg,
        settings=settings,
        resample=resample,
        datamodule=datamodule,
        layout=FeatureLayout.from_preprocessor(table.preprocessor),
        frames={split: table.features(split) for split in ("train", "val", "test")},
        tensors=tensors,
    )


# ---------------------------------------------------------------------- one approach
def _selector(settings: FraudSettings, family: str) -> ThresholdSelector:
    options = settings.threshold
    rule = options.anomaly_rule if family == "anomaly" and options.anomaly_rule else options.rule
    return ThresholdSelector(
        rule=rule,
        recall=options.recall,
        precision=options.precision,
        k=options.k,
        fraction=options.fraction,
        percentile=options.percentile,
    )


def evaluate_approach(data: StudyData, result: ApproachResult) -> dict[str, Any]:
    """Threshold from validation scores, then metrics of the test scores at that threshold."""
    y_val, y_test = data.labels("val"), data.labels("test")
    if result.family == "baseline":
        threshold, rule = math.inf, "never"  # "never fraud": no score reaches the threshold
    else:
        selector = _selector(data.settings, result.family).fit(y_val, result.val_scores)
        threshold, rule = selector.threshold_, selector.rule
    metrics = score_metrics(y_test, result.test_scores, threshold=threshold, k=data.settings.precision_at_k)
    val_ap = score_metrics(y_val, result.val_scores, threshold=threshold, k=1)["ap"]
    # Breaks ties of validation AP between classifiers (probabilities); a detector's score is no
    # probability, so it has none.
    val_loss = (
        validation_log_loss(y_val, result.val_scores)
        if result.family in ("network", "reference")
        else math.nan
    )
    return {
        "approach": result.name,
        **{k: metrics[k] for k in ("ap", "roc_auc", "precision", "recall", "f1")},
        "threshold": threshold,
        "sampler": result.sampler,
        **{
            k: metrics[k] for k in ("precision_at_k", "tp", "fp", "fn", "tn", "accuracy", "no_skill_accuracy")
        },
        "val_ap": val_ap,
        "val_loss": val_loss,
        "rule": rule,
        "family": result.family,
        "selected_on": result.selected_on,
    }


def _run_child(
    data: StudyData, name: str, *, study_dir: Path, parent: TrackedRun
) -> tuple[ApproachResult, dict[str, Any], str | None]:
    child_dir = study_dir / "approaches" / name
    child_dir.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(path=child_dir)
    # Named by its approach alone: MLflow nests it under the study's run, and a longer name is
    # cut to the same first letters for every child.
    with tracked_run(
        build_logger(data.cfg), folder=folder, run_name=name, parent_run_id=parent.run_id
    ) as child:
        logger = child.logger
        logger.set_tags({"fraud.approach": name})  # first, so a failed approach's run says which
        seed_everything(int(data.cfg.seed))  # each approach starts from the same seed, whatever ran before
        result = runner_for(name)(data, name, run_dir=child_dir, logger=logger)
        row = evaluate_approach(data, result)
        logger.set_tags({"fraud.family": result.family, "fraud.sampler": result.sampler})
        logger.log_hyperparams({**result.params, "threshold.rule": row["rule"]})
        finite = {k: float(v) for k, v in row.items() if isinstance(v, int | float) and math.isfinite(v)}
        logger.log_metrics(
            {f"test/{k}" if k != "val_ap" else "val/ap_best": v for k, v in finite.items()}, step=0
        )
    return result, row, child.run_id


# ---------------------------------------------------------------------- the study
def planned_fits(settings: FraudSettings) -> int:
    """How many networks the configured approaches fit (before any is skipped)."""
    networks = [a for a in settings.approaches if runner_for(a) is run_network]
    members = {"autoencoder": settings.autoencoder.ensemble}
    return sum(members.get(name, settings.ensemble) for name in networks)


def run_study(composed: ComposedConfig, *, print_table: bool = True) -> StudyResult:
    """Run every approach of ``fraud.approaches`` and write the comparison.

    Args:
        composed: ``compose_config(overrides, config_name="fraud")``.
        print_table: print the comparison in the terminal.

    Returns:
        The comparison table, the study folder and the MLflow run ids.

    Raises:
        UserError: bad config or data; the message names the value and the fix.
    """
    cfg, settings, resample = split_config(composed.cfg)
    run_name = cfg.run_name or f"fraud-{composed.choices.get('data', 'data')}"
    # The data, the networks and their Trainer, which approaches apply, and the tracking store:
    # all decided before the study folder exists, so a mistake leaves none. The lines this logs
    # go into fraud.log once the folder is made.
    # The worker processes that fit the networks start now, so that their imports overlap the
    # loading and checks below; leaving the block stops them, whatever happened.
    device = resolve_device(str(cfg.trainer.accelerator)).type
    workers = choose_workers(settings.workers, jobs=planned_fits(settings), device=device)
    # The networks' fits keep their checkpoints in a scratch folder until their approach's run
    # takes the first member's: they start before the study folder exists.
    with MemberPool(workers) as pool, tempfile.TemporaryDirectory(prefix="trainer-fraud-") as scratch:
        pool.start()
        # The data, the networks and their Trainer, which approaches apply, and the tracking
        # store: all decided before the study folder exists, so a mistake leaves none. The
        # lines this logs go into fraud.log once the folder is made. Each network approach is
        # queued on the pool as soon as it is known to apply.
        with held_log_records() as loading_lines:
            seed_everything(int(cfg.seed))
            data = load_study_data(cfg, settings, resample)
            data.pool = pool

            def queue_networks(name: str) -> None:
                if runner_for(name) is run_network:
                    data.queue(name, *network_jobs(data, name, Path(scratch) / name))

            skipped = check_before_training(data, applies=queue_networks)
            logger = build_logger(cfg)
        folder = RunFolder.open(chosen=cfg.paths.run_dir, runs_dir=cfg.paths.runs_dir, run_name=run_name)
        study_dir = folder.path
        with log_to_file(study_dir / "fraud.log", earlier=loading_lines):
            folder.write_config(composed.cfg, composed.overrides, composed.hydra)
            with tracked_run(logger, folder=folder, run_name=run_name, log_file="fraud.log") as parent:
                tags = {"fraud.study": "parent", "overrides": " ".join(composed.overrides) or "(none)"}
                if skipped:
                    tags["fraud.skipped"] = "; ".join(f"{name}: {why}" for name, why in skipped.items())
                parent.logger.set_tags(tags)
                config = OmegaConf.to_container(composed.cfg, resolve=True)
                parent.logger.log_hyperparams(run_params(flatten_config(config)))  # type: ignore[arg-type]
                result = _run_all(data, skipped, study_dir=study_dir, parent=parent, run_name=run_name)
                _record_parent(parent, result, study_dir)
            result.parent_run_id = parent.run_id
            result.where = parent.where_lines()
    if print_table:
        report.print_table(result.table, title=f"Fraud study {run_name} (test split)", skipped=skipped)
    return result


def _run_all(
    data: StudyData, skipped: dict[str, str], *, study_dir: Path, parent: TrackedRun, run_name: str
) -> StudyResult:
    results: dict[str, ApproachResult] = {}
    rows: list[dict[str, Any]] = []
    child_ids: dict[str, str | None] = {}
    approaches = [a for a in data.settings.approaches if a not in skipped]
    # Every network's members were queued as the study checked which approaches apply, in the
    # approaches' order: the workers fit them while the study records the approaches that are
    # done and runs the references.
    networks = [a for a in approaches if runner_for(a) is run_network]
    fits = {name: data.pending[name][0] for name in networks}
    if data.pool is not None and data.pool.workers > 1:
        log.info("Fitting %d networks, %d at once", sum(map(len, fits.values())), data.pool.workers)
    train_rows = len(data.labels("train"))
    # The estimate weighs an approach by the rows its networks fit on (shared fits count once).
    shared = {a for a in fits if "networks_of" in data.pending[a][2]}
    progress = StudyProgress(
        {
            a: (0 if a in shared else sum(len(job.train[1]) for job in fits[a])) if a in fits else train_rows
            for a in [a for a in approaches if a not in fits] + networks
        }
    )
    # The approaches without networks run first, in this process, while the workers fit the
    # networks; the table keeps the configured order.
    for name in [a for a in approaches if a not in fits] + networks:
        log.info("%s", progress.starting(name))
        result, row, child_id = _run_child(data, name, study_dir=study_dir, parent=parent)
        results[name], child_ids[name] = result, child_id
        rows.append(row)
    rows.sort(key=lambda row: approaches.index(str(row["approach"])))
    table = report.comparison_frame(rows)
    outcome = StudyResult(
        table=table, run_dir=study_dir, parent_run_id=None, child_run_ids=child_ids, skipped=skipped
    )
    report.write_tables(table, study_dir, title=f"Fraud study {run_name}", skipped=skipped)
    y_test = data.labels("test")
    figures = study_dir / "figures"
    report.curves({n: r.test_scores for n, r in results.items()}, y_test, figures)
    _explain(data, results, table, outcome)
    return outcome


def _explain(
    data: StudyData, results: dict[str, ApproachResult], table: pd.DataFrame, outcome: StudyResult
) -> None:
    """Permutation importance for the best classifier (by validation AP); autoencoder flag reasons."""
    folder = outcome.run_dir / "explanations"
    folder.mkdir(parents=True, exist_ok=True)
    options = data.settings.explain
    pick = best_network(table, families=("network", "reference"))
    if pick is not None and len(np.unique(data.labels("test"))) == 2:
        best = pick.name
        scorer = results[best].score_frame
        assert scorer is not None
        importance = explain.permutation_importance_ap(
            scorer,
            data.frames["test"],
            data.labels("test"),
            n_repeats=options.n_repeats,
            random_state=int(data.cfg.seed),
        )
        importance.insert(0, "approach", best)
        importance.to_csv(folder / "permutation_importance.csv", index=False)
        outcome.importance = importance
    autoencoder = results.get("autoencoder")
    if autoencoder is not None and autoencoder.feature_errors is not None:
        row = table[table["approach"] == "autoencoder"].iloc[0]
        y_test = data.labels("test")
        report.error_histogram(
            autoencoder.test_scores,
            y_test,
            float(row["threshold"]),
            outcome.run_dir / "figures" / "autoencoder_errors.png",
        )
        flagged = explain.flagged_rows(
            autoencoder.feature_errors,
            data.tensors["test"][0],
            autoencoder.test_scores,
            threshold=float(row["threshold"]),
            layout=data.layout,
            labels=y_test,
            top_columns=options.top_columns,
            max_rows=options.max_rows,
        )
        flagged.to_csv(folder / "autoencoder_flagged_rows.csv", index=False)
        outcome.flagged = flagged


def _record_parent(parent: TrackedRun, result: StudyResult, study_dir: Path) -> None:
    # The comparison is the page's description and its files; each approach's metrics are on
    # its own run (25 single-point metrics here would open the page on a wall of one-dot charts).
    description = study_description(
        result.table,
        child_run_ids=result.child_run_ids,
        skipped=result.skipped,
        address=parent.logger.run_address,
    )
    parent.logger.set_tags({DESCRIPTION_TAG: description})
    for name in ("comparison.csv", "comparison.md"):
        parent.logger.log_artifact(study_dir / name)
    for folder in ("figures", "explanations"):
        if (study_dir / folder).is_dir() and any((study_dir / folder).iterdir()):
            parent.logger.log_artifact(study_dir / folder, artifact_path=folder)
