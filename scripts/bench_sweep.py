"""``trainer sweep`` against the sweep a practitioner writes by hand: Optuna + Lightning, one process.

The peer (issue 20) is ONE Optuna study in ONE process training a ``lightning.LightningModule``
with ``optuna_integration.PyTorchLightningPruningCallback``, written as the Optuna example
(optuna-examples ``pytorch/pytorch_lightning_simple.py``) and Lightning's documentation teach.
Ours is ``trainer sweep`` with its defaults (``trainer.sweep.stages.run_sweep``, in process).
Both search ``conf/hparams_search/<space>.yaml`` (only ``mlp`` has a hand-written peer) on
``--data`` with ``--trials`` trials of up to ``--epochs`` epochs, and end with a refit of the best
trial. What is made equal, and how:

* data: the train/val/test tensors come from our own data module (``data=<data>``, the config's
  seed), split and scaled once in this process; the peer gets them as plain
  ``TensorDataset``/``DataLoader`` (shuffled training batches of the trial's ``data.batch_size``,
  evaluation batches of our ``data.eval_batch_size``). The peer pays no scikit-learn load or split.
* search space: the peer calls ``trial.suggest_*`` by hand with our names, order and
  distributions (list choices as our JSON text), checked against ``SearchSpace.sample`` before
  anything runs: 40 seeded random trials must give both the same distributions and values. The
  same TPE seed therefore gives both the same first (startup) trials; the table says how many
  leading trials coincided.
* sampler and pruner: ``TPESampler(seed=s)`` on both; ours' median pruner with its
  ``n_startup_trials`` and ``interval_steps``. Ours reports epoch ``k`` as step ``k`` (from 1),
  the Lightning callback as ``current_epoch`` (from 0), so the peer's ``n_warmup_steps`` is ours
  minus one: both can first prune after the same epoch. Both studies live in sqlite (ours' default
  storage), in a fresh folder per run.
* training: the same MLP (our ``model.*`` settings: Linear + ReLU [+ Dropout] blocks, He-normal
  weights, Glorot-uniform head, zero biases) as an ``nn.Sequential``, cross-entropy, the
  optimizer class and settings of our ``optimizer=<group>`` files with the trial's lr (and
  momentum); every trial seeds torch with the config's seed, as ``trainer train`` does.
  Early stopping is Lightning's ``EarlyStopping`` with the monitor, mode, patience and min_delta of
  a trial's config as ours composes it (``trainer.sweep.trial_config``: the study's metric,
  ``val/loss``, min). A trial's value is its best epoch's ``val/loss`` on both sides (ours:
  ``trial_value``; the peer: its ``EarlyStopping.best_score``), the refit's is its checkpoint's
  best score. Torch's thread count is left at its default on both sides, as ``trainer sweep``
  with ``sweep.n_jobs=1`` does (``--threads N`` sets it on both). The optimizer settings are
  our config's on both sides; ours then takes torch's fused kernel where it has one (its
  default), the peer torch's default kernel, as ``torch.optim.Adam(self.parameters(), lr=...)``
  in a LightningModule does.
* records, two modes: ``tracked``: ours to MLflow in a sqlite store (its default logger); the peer
  with Lightning's ``MLFlowLogger`` to its own sqlite store, one run per trial,
  ``log_every_n_steps`` = our ``trainer.log_every_n_steps``, hyperparameters through
  ``save_hyperparameters``, the train loss per step and per epoch, val/test loss and accuracy.
  ``untracked``: ours with ``logger=none``, the peer with ``logger=False``. Trials of the peer run
  with ``enable_checkpointing=False`` as in the Optuna example (``--peer-trial-checkpoints`` gives
  them Lightning's default checkpoint instead); ours' trials do what ``trainer sweep`` does (light
  trials: no checkpoint file; the header says).
  Progress bars and the model summary are off for the peer; ours draws none when its output is
  not a terminal. Neither side draws study plots (``sweep.plots=false``: the peer has none).
* refit: ours refits the best trial with its full record (test split, checkpoints, figures, the
  packaged model when tracked); the peer trains the best params once more with a
  ``ModelCheckpoint`` on the early-stopping metric (``MLFlowLogger(log_model=True)`` when tracked)
  and tests the best checkpoint.

Each contender runs in a fresh subprocess of this script (imports and caches paid alike), the
two interleaved over ``--rounds`` rounds with the order alternating. CPU seconds are the child
process's own (``RUSAGE_CHILDREN``): other jobs on a shared machine lengthen wall time more than
CPU time, though torch's threads spinning while they wait for a busy core inflate CPU time too
(each run's line ends with the 1-minute load average; scripts/bench_trainer.py found
``--threads 1`` steadier under load).
Per run it prints wall and CPU seconds, trials, pruned, epochs (the refit's included), the best
value, and how many first trials both sampled alike with how far apart their values were there;
then medians with the min-max spread per mode. The same params do not give the same value on
both sides (the same initial weights, but the peer's DataLoader shuffles and its dropout draws
from other random streams than ours), so one seed's best values differ by training noise:
``--seeds 0 1 2`` repeats it all for each sampler seed (the same on both sides) and compares the
best values seed by seed.
The last line is ``peer_tracked=<ours/peer CPU> peer_untracked=<ours/peer CPU>
best_ours=<v> best_peer=<v>``: ratios of median CPU seconds, and the median best value over
every run. Needs the ``bench`` extra (lightning, optuna-integration).

    .venv/bin/python scripts/bench_sweep.py                    # digits, 20 trials, 15 epochs, 3 rounds
    .venv/bin/python scripts/bench_sweep.py --trials 4 --epochs 3 --rounds 1
    .venv/bin/python scripts/bench_sweep.py --seeds 0 1 2 --rounds 1
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CONTENDERS = ("ours", "peer")
MODES = ("tracked", "untracked")
RESULT_PREFIX = "BENCH-RESULT "
STUDY_NAME = "bench"
#: Our metric names and the peer's (Lightning's ``self.log`` names).
PEER_METRICS = {"val/loss": "val_loss", "val/accuracy": "val_acc"}


# ---------------------------------------------------------------------- the peer's search space
HIDDEN_SIZES = ["[32]", "[64,32]", "[128,64]", "[128,64,32]"]


def peer_suggest(trial: Any) -> dict[str, Any]:
    """The peer's search space, by hand: conf/hparams_search/mlp.yaml's names, order and ranges."""
    optimizer = trial.suggest_categorical("optimizer", ["adam", "nadam", "momentum"])
    lr = trial.suggest_float("optimizer.lr", 1e-4, 3e-2, log=True)
    momentum = trial.suggest_float("optimizer.momentum", 0.8, 0.99) if optimizer == "momentum" else None
    hidden_sizes = json.loads(trial.suggest_categorical("model.hidden_sizes", HIDDEN_SIZES))
    dropout = trial.suggest_float("model.dropout", 0.0, 0.5, step=0.1)
    batch_size = trial.suggest_categorical("data.batch_size", [32, 64, 128, 256])
    return {
        "optimizer": optimizer,
        "lr": lr,
        "momentum": momentum,
        "hidden_sizes": hidden_sizes,
        "dropout": dropout,
        "batch_size": batch_size,
    }


def check_same_space(space: Any) -> None:
    """Ours' ``SearchSpace.sample`` and ``peer_suggest`` must ask Optuna for the same things."""
    import optuna

    for seed in range(40):  # enough to take the momentum branch and miss it
        ours = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        space.sample(ours)
        peer = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        peer_suggest(peer)
        if list(ours.distributions.items()) != list(peer.distributions.items()) or ours.params != peer.params:
            raise SystemExit(
                "The peer's hand-written search space differs from ours:\n"
                f"  ours: {ours.distributions} {ours.params}\n  peer: {peer.distributions} {peer.params}"
            )


# ---------------------------------------------------------------------- set-up (this process)
def _require(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"The peer cannot mirror this config: {what}.")


def build_spec(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Everything both sides share, read from our config; the data saved for the peer."""
    import numpy as np
    import optuna
    from omegaconf import OmegaConf

    from trainer.build import build_datamodule
    from trainer.config.compose import compose_config
    from trainer.sweep.config import load_sweep
    from trainer.sweep.pruner_factory import build_pruner
    from trainer.tasks import objective_class

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings, space, _ = load_sweep([f"hparams_search={args.space}", f"data={args.data}"])
    _require(settings.sampler == "tpe", f"sweep.sampler={settings.sampler} (the peer uses TPE)")
    _require(settings.pruner == "median", f"sweep.pruner={settings.pruner} (the peer uses the median one)")
    _require(settings.metrics == ("val/loss",), f"sweep.metric={settings.metrics} (the peer's is val/loss)")
    check_same_space(space)
    pruner = build_pruner(settings.pruner, options=settings.pruner_options)
    assert isinstance(pruner, optuna.pruners.MedianPruner)
    pruner_settings = {
        "n_startup_trials": pruner._n_startup_trials,
        "n_warmup_steps": pruner._n_warmup_steps,
        "interval_steps": pruner._interval_steps,
        "n_min_trials": pruner._n_min_trials,
    }

    # A trial's config as ours composes it (its early stopping and checkpoint follow the study's
    # metric), and the refit's (which keeps its checkpoint).
    base = [f"data={args.data}"]
    first = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    overrides = space.overrides(space.sample(first))
    try:
        from trainer.sweep.trial_config import TrialConfigs
    except ImportError:  # before trial_config.py: a trial composed as `trainer train` does
        cfg = refit_cfg = compose_config([*base, *overrides]).cfg
    else:
        metric, direction = settings.metrics[0], settings.directions[0]
        light = TrialConfigs(
            base, metric=metric, direction=direction, keep_checkpoints=not settings.light_trials
        )
        cfg = light.compose(light.with_monitor(overrides)).cfg
        full = TrialConfigs(base, metric=metric, direction=direction, keep_checkpoints=True)
        refit_cfg = full.compose(full.with_monitor(overrides)).cfg
    model = cfg.model
    _require(model._target_ == "trainer.models.MLP", f"model={model._target_}")
    _require(model.activation == "relu", f"model.activation={model.activation}")
    _require(model.init == "he_normal", f"model.init={model.init}")
    _require(model.batch_norm in ("none", False, None), f"model.batch_norm={model.batch_norm}")
    _require(not cfg.get("scheduler"), "a learning-rate scheduler")
    _require(float(cfg.regularization.l1) == float(cfg.regularization.l2) == 0.0, "regularization")
    _require(float(cfg.objective.label_smoothing) == 0.0, "objective.label_smoothing")
    _require(float(cfg.trainer.gradient_clip_val) == 0.0, "trainer.gradient_clip_val")
    _require(int(cfg.trainer.accumulate_grad_batches) == 1, "trainer.accumulate_grad_batches")
    _require(str(cfg.trainer.precision) == "32", f"trainer.precision={cfg.trainer.precision}")

    datamodule = build_datamodule(cfg)
    task = objective_class(datamodule.task)
    _require(datamodule.task == "multiclass", f"the {datamodule.task} task (the peer is a classifier)")
    es = cfg.callbacks.early_stopping
    checkpoint = refit_cfg.callbacks.model_checkpoint
    monitor, mode = _resolve_monitor(es, task)
    _require(
        monitor == settings.metrics[0],
        f"early stopping on {monitor}, not on the study's {settings.metrics[0]} (the peer's trial value "
        "is its EarlyStopping's best score: the best epoch's, as ours' is)",
    )
    _require((monitor, mode) == _resolve_monitor(checkpoint, task), "the refit's checkpoint monitor")

    optimizers = {}
    for group in next(p for p in space.params if p.key == "optimizer").choices:
        node = OmegaConf.to_container(compose_config([f"optimizer={group}"]).cfg.optimizer, resolve=True)
        assert isinstance(node, dict)
        target = str(node.pop("_target_"))
        optimizers[group] = {
            "class": target.rsplit(".", 1)[1],
            "kwargs": {str(k): v for k, v in node.items()},
        }

    arrays: dict[str, Any] = {}
    for split in ("train", "val", "test"):
        x, y = datamodule.tensors(split)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x.float().numpy(), y.long().numpy()  # class codes
    data_path = folder / "data.npz"
    np.savez(data_path, **arrays)
    return {
        "space": args.space,
        "data": args.data,
        "data_path": str(data_path),
        "trials": args.trials,
        "epochs": args.epochs,
        "config_seed": int(cfg.seed),
        "metric": settings.metrics[0],
        "direction": settings.directions[0],
        "pruner": pruner_settings,
        "early_stopping": {
            "monitor": monitor,
            "mode": mode,
            "patience": int(es.patience),
            "min_delta": float(es.min_delta),
        },
        "ours_trial_checkpoints": cfg.callbacks.get("model_checkpoint") is not None,
        "log_every_n_steps": int(cfg.trainer.log_every_n_steps),
        "eval_batch_size": int(cfg.data.eval_batch_size),
        "in_features": int(arrays["x_train"].shape[1]),
        "num_classes": len(datamodule.classes_),
        "optimizers": optimizers,
        "peer_trial_checkpoints": args.peer_trial_checkpoints,
        "threads": args.threads,
        "rows": {split: len(arrays[f"y_{split}"]) for split in ("train", "val", "test")},
    }


def _resolve_monitor(node: Any, task: Any) -> tuple[str, str]:
    """A callback's ``monitor``/``mode`` with ``auto`` filled in as ours does."""
    name, default_mode = task.default_monitor
    monitor = f"val/{name}" if node.monitor == "auto" else str(node.monitor)
    if node.mode != "auto":
        return monitor, str(node.mode)
    return monitor, default_mode if node.monitor == "auto" else task.direction(monitor)


# ---------------------------------------------------------------------- ours (child process)
def run_ours(spec: dict[str, Any], mode: str, seed: int, folder: Path) -> dict[str, Any]:
    """``trainer sweep`` in this process, as a user runs it."""
    from trainer.sweep.stages import run_sweep

    overrides = [
        f"hparams_search={spec['space']}",
        f"data={spec['data']}",
        f"sweep.n_trials={spec['trials']}",
        f"sweep.seed={seed}",
        "sweep.plots=false",
        f"sweep.storage=sqlite:///{folder}/optuna.db",
        f"sweep.study_name={STUDY_NAME}",
        f"trainer.max_epochs={spec['epochs']}",
        "trainer.accelerator=cpu",
        f"paths.runs_dir={folder}/runs",
        f"logger.tracking_uri=sqlite:///{folder}/mlflow.db" if mode == "tracked" else "logger=none",
    ]
    started, cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
    [result] = run_sweep(overrides, stream=io.StringIO())
    work_wall, work_cpu = time.perf_counter() - started, _cpu(resource.RUSAGE_SELF) - cpu
    refit = result.refit
    return {
        "work_wall": work_wall,
        "work_cpu": work_cpu,
        "refit_epochs": refit.epochs if refit else 0,
        "refit_value": refit.value if refit else math.nan,
        "refit_test_accuracy": refit.metrics.get("test/accuracy", math.nan) if refit else math.nan,
        "refit_error": refit.error if refit else "no refit",
        "threads": _threads(),
    }


# ---------------------------------------------------------------------- the peer (child process)
def peer_module_class() -> type[Any]:
    """The LightningModule, as Lightning's documentation writes one (defined once Lightning imports)."""
    import lightning as L
    import torch
    import torch.nn.functional as F
    from torch import nn

    class LitMLP(L.LightningModule):
        def __init__(
            self,
            *,
            in_features: int,
            num_classes: int,
            hidden_sizes: Sequence[int],
            dropout: float,
            optimizer: str,
            lr: float,
            momentum: float | None,
            optimizer_class: str,
            optimizer_kwargs: dict[str, Any],
        ) -> None:
            super().__init__()
            self.save_hyperparameters()
            layers: list[nn.Module] = []
            width = in_features
            for size in hidden_sizes:
                linear = nn.Linear(width, size)
                nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
                nn.init.zeros_(linear.bias)
                layers += [linear, nn.ReLU()]
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
                width = size
            head = nn.Linear(width, num_classes)
            nn.init.xavier_uniform_(head.weight)
            nn.init.zeros_(head.bias)
            self.net = nn.Sequential(*layers, head)
            self.validations = 0  # epochs validated (the sanity check aside): the table's epochs

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = F.cross_entropy(self(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> None:
            x, y = batch
            logits = self(x)
            loss = F.cross_entropy(logits, y)
            accuracy = (logits.argmax(dim=1) == y).float().mean()
            self.log_dict({f"{stage}_loss": loss, f"{stage}_acc": accuracy}, batch_size=len(x))

        def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
            self._evaluate(batch, "val")

        def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
            self._evaluate(batch, "test")

        def on_validation_epoch_end(self) -> None:
            if not self.trainer.sanity_checking:
                self.validations += 1

        def configure_optimizers(self) -> torch.optim.Optimizer:
            hp = self.hparams
            kwargs = {**hp["optimizer_kwargs"], "lr": hp["lr"]}
            if hp["momentum"] is not None:
                kwargs["momentum"] = hp["momentum"]
            optimizer: torch.optim.Optimizer = getattr(torch.optim, hp["optimizer_class"])(
                self.parameters(), **kwargs
            )
            return optimizer

    return LitMLP


def run_peer(spec: dict[str, Any], mode: str, seed: int, folder: Path) -> dict[str, Any]:
    """One Optuna study, one process, Lightning with the optuna-integration pruning callback."""
    import lightning as L
    import numpy as np
    import optuna
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from optuna_integration import PyTorchLightningPruningCallback
    from torch.utils.data import DataLoader, TensorDataset

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)  # "GPU available: False" and the like
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tracked = mode == "tracked"
    tracking_uri = f"sqlite:///{folder}/mlflow.db"
    metric = PEER_METRICS[spec["metric"]]
    es = spec["early_stopping"]
    LitMLP = peer_module_class()

    with np.load(spec["data_path"]) as data:
        splits = {
            split: TensorDataset(torch.from_numpy(data[f"x_{split}"]), torch.from_numpy(data[f"y_{split}"]))
            for split in ("train", "val", "test")
        }
    val_loader = DataLoader(splits["val"], batch_size=spec["eval_batch_size"])
    test_loader = DataLoader(splits["test"], batch_size=spec["eval_batch_size"])

    def build(params: dict[str, Any]) -> tuple[Any, Any]:
        L.seed_everything(spec["config_seed"], verbose=False)
        optimizer = spec["optimizers"][params["optimizer"]]
        model = LitMLP(
            in_features=spec["in_features"],
            num_classes=spec["num_classes"],
            hidden_sizes=params["hidden_sizes"],
            dropout=params["dropout"],
            optimizer=params["optimizer"],
            lr=params["lr"],
            momentum=params["momentum"],
            optimizer_class=optimizer["class"],
            optimizer_kwargs=optimizer["kwargs"],
        )
        train_loader = DataLoader(splits["train"], batch_size=params["batch_size"], shuffle=True)
        return model, train_loader

    def early_stopping() -> EarlyStopping:
        return EarlyStopping(
            monitor=PEER_METRICS[es["monitor"]],
            mode=es["mode"],
            patience=es["patience"],
            min_delta=es["min_delta"],
        )

    def lightning_trainer(logger: Any, callbacks: list[Any], *, checkpointing: bool) -> L.Trainer:
        return L.Trainer(
            max_epochs=spec["epochs"],
            accelerator="cpu",
            devices=1,
            logger=logger,
            callbacks=callbacks,
            enable_checkpointing=checkpointing,
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=spec["log_every_n_steps"],
            default_root_dir=folder,
        )

    def mlflow_logger(run_name: str, **kwargs: Any) -> Any:
        from lightning.pytorch.loggers import MLFlowLogger

        return MLFlowLogger(
            experiment_name=STUDY_NAME, run_name=run_name, tracking_uri=tracking_uri, **kwargs
        )

    def objective(trial: optuna.Trial) -> float:
        model, train_loader = build(peer_suggest(trial))
        stopper = early_stopping()
        trainer = lightning_trainer(
            mlflow_logger(f"trial_{trial.number:03d}") if tracked else False,
            [PyTorchLightningPruningCallback(trial, monitor=metric), stopper],
            checkpointing=spec["peer_trial_checkpoints"],
        )
        try:
            trainer.fit(model, train_loader, val_loader)
        finally:
            trial.set_user_attr("epochs", model.validations)
        return float(stopper.best_score.item())  # the best epoch's value, as ours' (same monitor)

    started, cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
    p = spec["pruner"]
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=f"sqlite:///{folder}/optuna.db",
        direction=spec["direction"],
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=p["n_startup_trials"],
            n_warmup_steps=max(0, p["n_warmup_steps"] - 1),  # steps from 0 here, from 1 in ours
            interval_steps=p["interval_steps"],
            n_min_trials=p["n_min_trials"],
        ),
    )
    study.optimize(objective, n_trials=spec["trials"])

    # The refit: the best params trained once more, the best checkpoint tested.
    model, train_loader = build(peer_suggest(optuna.trial.FixedTrial(study.best_params)))
    checkpoint = ModelCheckpoint(
        dirpath=folder / "refit", monitor=PEER_METRICS[es["monitor"]], mode=es["mode"], save_last=True
    )
    trainer = lightning_trainer(
        mlflow_logger("best", log_model=True) if tracked else False,
        [early_stopping(), checkpoint],
        checkpointing=True,
    )
    trainer.fit(model, train_loader, val_loader)
    assert checkpoint.best_model_score is not None
    value = float(checkpoint.best_model_score.item())
    [tested] = trainer.test(model, test_loader, ckpt_path="best", verbose=False)
    return {
        "work_wall": time.perf_counter() - started,
        "work_cpu": _cpu(resource.RUSAGE_SELF) - cpu,
        "refit_epochs": model.validations,
        "refit_value": value,
        "refit_test_accuracy": float(tested["test_acc"]),
        "refit_error": "",
        "threads": _threads(),
    }


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def child_main(args: argparse.Namespace) -> None:
    spec = json.loads(Path(args.spec).read_text())
    if spec["threads"]:
        import torch

        torch.set_num_threads(spec["threads"])
    runner = run_ours if args.child == "ours" else run_peer
    result = runner(spec, args.mode, args.seed, Path(args.folder))
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# ---------------------------------------------------------------------- the rounds (this process)
def run_child(who: str, mode: str, seed: int, spec_path: Path, folder: Path) -> dict[str, Any]:
    """Run one contender in a fresh process; its wall and CPU seconds and its study's counts."""
    import optuna

    folder.mkdir(parents=True)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        who,
        "--mode",
        mode,
        "--seed",
        str(seed),
        "--spec",
        str(spec_path),
        "--folder",
        str(folder),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    started, cpu = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - started, _cpu(resource.RUSAGE_CHILDREN) - cpu
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip() or done.stdout.strip())[-3000:]
        print(f"  {who} ({mode}, seed {seed}) failed with exit code {done.returncode}:\n{tail}", flush=True)
        return {"ok": False, "who": who, "mode": mode, "seed": seed}
    out = json.loads(lines[-1][len(RESULT_PREFIX) :])
    study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{folder}/optuna.db")
    states = [t.state for t in study.trials]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    out.update(
        ok=True,
        who=who,
        mode=mode,
        seed=seed,
        wall=wall,
        cpu=cpu,
        trials=len(study.trials),
        pruned=states.count(optuna.trial.TrialState.PRUNED),
        failed=states.count(optuna.trial.TrialState.FAIL),
        epochs=sum(int(t.user_attrs.get("epochs", 0)) for t in study.trials) + int(out["refit_epochs"]),
        best=study.best_value if complete else math.nan,
        params=[t.params for t in study.trials],
        values=[t.value if t.state == optuna.trial.TrialState.COMPLETE else None for t in study.trials],
        load=os.getloadavg()[0],
    )
    shutil.rmtree(folder, ignore_errors=True)  # checkpoints and stores of 20 trials add up
    return out


def leading_equal(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int:
    """How many first trials the two studies sampled identically."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def pair_note(ours: dict[str, Any], peer: dict[str, Any]) -> str:
    """How many first trials both sampled alike, and how far apart their values were there."""
    if not (ours["ok"] and peer["ok"]):
        return ""
    same = leading_equal(ours["params"], peer["params"])
    pairs = [
        (a, b)
        for a, b in zip(ours["values"][:same], peer["values"][:same], strict=True)
        if a is not None and b is not None
    ]
    gap = max((abs(a - b) for a, b in pairs), default=math.nan)
    return f"  same first trials {same} (both complete {len(pairs)}, values apart by <= {gap:.4f})"


def print_run(r: dict[str, Any], rnd: int, note: str = "") -> None:
    if not r["ok"]:
        return
    print(
        f"  seed {r['seed']} round {rnd} {r['mode']:9} {r['who']:4}  wall {r['wall']:6.1f} s  "
        f"CPU {r['cpu']:6.1f} s (study+refit {r['work_cpu']:6.1f})  trials {r['trials']:3d}  "
        f"pruned {r['pruned']:3d}  failed {r['failed']:2d}  epochs {r['epochs']:4d}  best {r['best']:.4f}  "
        f"refit val {r['refit_value']:.4f} test acc {r['refit_test_accuracy']:.4f}  "
        f"threads {r['threads']}  load {r['load']:.1f}{note}",
        flush=True,
    )
    if r["refit_error"]:
        print(f"    refit: {r['refit_error']}", flush=True)


def spread(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    if not values:
        return "n/a"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def summarize(runs: list[dict[str, Any]], modes: Sequence[str], seeds: Sequence[int]) -> None:
    ok = [r for r in runs if r["ok"]]
    print("\nMedians (min-max) over every run of each contender and mode:")
    print(
        f"  {'mode':9} {'who':4} {'runs':>4}  {'wall s':>20}  {'CPU s':>20}  {'trials':>12}  "
        f"{'pruned':>12}  {'epochs':>15}  {'best':>26}"
    )
    for mode in modes:
        for who in CONTENDERS:
            rs = [r for r in ok if r["mode"] == mode and r["who"] == who]
            print(
                f"  {mode:9} {who:4} {len(rs):4d}  {spread([r['wall'] for r in rs]):>20}  "
                f"{spread([r['cpu'] for r in rs]):>20}  {spread([r['trials'] for r in rs], '{:.0f}'):>12}  "
                f"{spread([r['pruned'] for r in rs], '{:.0f}'):>12}  "
                f"{spread([r['epochs'] for r in rs], '{:.0f}'):>15}  "
                f"{spread([r['best'] for r in rs], '{:.4f}'):>26}"
            )
    ratios: dict[str, float] = {}
    for mode in modes:
        ours = [r["cpu"] for r in ok if r["mode"] == mode and r["who"] == "ours"]
        peer = [r["cpu"] for r in ok if r["mode"] == mode and r["who"] == "peer"]
        if ours and peer:
            ratios[mode] = statistics.median(ours) / statistics.median(peer)
            paired = [
                a["cpu"] / b["cpu"]
                for a in ok
                for b in ok
                if a["who"] == "ours"
                and b["who"] == "peer"
                and a["mode"] == b["mode"] == mode
                and a["seed"] == b["seed"]
                and a["round"] == b["round"]
            ]
            walls = statistics.median(r["wall"] for r in ok if r["mode"] == mode and r["who"] == "ours")
            wallp = statistics.median(r["wall"] for r in ok if r["mode"] == mode and r["who"] == "peer")
            print(
                f"  {mode}: ours/peer CPU {ratios[mode]:.2f} (per round {spread(paired, '{:.2f}')}), "
                f"wall {walls / wallp:.2f}"
            )
    if len(seeds) > 1:
        print("\nBest value per sampler seed (median over rounds and modes):")
        wins = 0
        for seed in seeds:
            bo = [r["best"] for r in ok if r["seed"] == seed and r["who"] == "ours"]
            bp = [r["best"] for r in ok if r["seed"] == seed and r["who"] == "peer"]
            if bo and bp:
                o, p = statistics.median(bo), statistics.median(bp)
                wins += o <= p
                print(
                    f"  seed {seed}: ours {o:.4f}  peer {p:.4f}  "
                    + ("ours <= peer" if o <= p else "peer better")
                )
        print(f"  ours equal or better on {wins} of {len(seeds)} seeds")
    best = {
        who: statistics.median([r["best"] for r in ok if r["who"] == who] or [math.nan]) for who in CONTENDERS
    }
    tracked = f"{ratios['tracked']:.2f}" if "tracked" in ratios else "n/a"
    untracked = f"{ratios['untracked']:.2f}" if "untracked" in ratios else "n/a"
    print(
        f"\npeer_tracked={tracked} peer_untracked={untracked} "
        f"best_ours={best['ours']:.4f} best_peer={best['peer']:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--space", default="mlp", help="conf/hparams_search/<space>.yaml (mlp only)")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per seed and mode")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="TPE sampler seeds")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--peer-trial-checkpoints",
        action="store_true",
        help="the peer's trials keep Lightning's default checkpoint (the Optuna example turns it off)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads on both sides (default: torch's own, as trainer sweep with n_jobs=1 leaves it)",
    )
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return

    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = Path(tmp)
        spec = build_spec(args, root)
        spec_path = root / "spec.json"
        spec_path.write_text(json.dumps(spec))
        p, es = spec["pruner"], spec["early_stopping"]
        print(
            f"Sweep of {args.space} on {args.data} (rows {spec['rows']}): {args.trials} trials x up to "
            f"{args.epochs} epochs, TPE seeds {args.seeds}, {args.rounds} rounds, modes {args.modes}; "
            f"{os.cpu_count()} CPU cores.\n"
            f"Median pruner: n_startup_trials={p['n_startup_trials']}, n_warmup_steps={p['n_warmup_steps']} "
            f"(ours, epochs from 1) = {max(0, p['n_warmup_steps'] - 1)} (peer, epochs from 0). "
            f"Early stopping on {es['monitor']} ({es['mode']}), patience {es['patience']}, "
            f"min_delta {es['min_delta']}; a trial's value is its best epoch's. Logging every "
            f"{spec['log_every_n_steps']} steps. Trials write checkpoints: ours "
            f"{spec['ours_trial_checkpoints']}, peer {spec['peer_trial_checkpoints']}. Torch threads: "
            f"{spec['threads'] or 'default'}.",
            flush=True,
        )
        runs: list[dict[str, Any]] = []
        turn = 0
        for seed in args.seeds:
            for rnd in range(1, args.rounds + 1):
                for mode in args.modes:
                    order = CONTENDERS if turn % 2 == 0 else CONTENDERS[::-1]
                    turn += 1
                    pair: dict[str, dict[str, Any]] = {}
                    for who in order:
                        folder = root / f"s{seed}-r{rnd}-{mode}-{who}"
                        result = run_child(who, mode, seed, spec_path, folder)
                        result["round"] = rnd
                        pair[who] = result
                        runs.append(result)
                    note = pair_note(pair["ours"], pair["peer"])
                    for who in order:
                        print_run(pair[who], rnd, note)
        summarize(runs, args.modes, args.seeds)


if __name__ == "__main__":
    main()
