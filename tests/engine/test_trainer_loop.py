"""fit / validate / test / predict for every objective, metric names, and learning itself."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.engine import Trainer
from trainer.errors import ConfigError, UserError

KINDS = ("binary", "multiclass", "regression", "reconstruction")
NUM_CLASSES = 3  # classes of the multiclass problem in conftest

# Metrics each objective adds to ``loss`` (without the stage prefix).
EXPECTED_METRICS = {
    "binary": {"loss", "accuracy", "precision", "recall", "f1", "roc_auc", "ap"},
    "multiclass": {"loss", "accuracy", "precision", "recall", "f1", "roc_auc"},
    "regression": {"loss", "mse", "rmse", "mae", "r2"},
    "reconstruction": {"loss", "mse", "roc_auc", "ap"},
}


@pytest.mark.parametrize("kind", KINDS)
def test_fit_validate_test_predict_for_each_objective(kind, datamodule, module, tmp_path):
    dm = datamodule(kind)
    mod = module(kind, optimizer_factory=lambda p: torch.optim.Adam(p, lr=0.02))
    trainer = Trainer(accelerator="cpu", max_epochs=3, default_root_dir=tmp_path)

    trainer.fit(mod, dm)

    assert trainer.current_epoch == 3
    assert trainer.global_step == 3 * 8  # 256 rows / batch 32
    assert [row["epoch"] for row in trainer.history] == [1, 2, 3]
    expected_fit_keys = {"train/loss"} | {f"val/{m}" for m in EXPECTED_METRICS[kind]}
    assert set(trainer.callback_metrics) == expected_fit_keys
    assert all(math.isfinite(v) for v in trainer.callback_metrics.values())

    val = trainer.validate(mod, dm)
    assert set(val) == {f"val/{m}" for m in EXPECTED_METRICS[kind]}
    # The model did not change since the last validation inside fit.
    assert val["val/loss"] == pytest.approx(trainer.callback_metrics["val/loss"], rel=1e-6)

    test = trainer.test(mod, dm)
    assert set(test) == {f"test/{m}" for m in EXPECTED_METRICS[kind]}

    predictions = trainer.predict(mod, dm)
    rows = len(dm.test[0])
    expected_shape = {
        "binary": (rows,),
        "multiclass": (rows, NUM_CLASSES),
        "regression": (rows,),
        "reconstruction": (rows,),
    }[kind]
    assert predictions.shape == expected_shape
    assert predictions.dtype == torch.float32
    assert torch.isfinite(predictions).all()
    if kind == "binary":
        assert ((predictions >= 0) & (predictions <= 1)).all()
    if kind == "multiclass":
        torch.testing.assert_close(predictions.sum(dim=1), torch.ones(rows))
    if kind == "reconstruction":
        assert (predictions >= 0).all()  # squared errors
        assert predictions.mean().item() == pytest.approx(test["test/mse"], rel=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_loss_goes_down_on_an_easy_problem(kind, datamodule, module, tmp_path):
    dm = datamodule(kind)
    mod = module(kind, optimizer_factory=lambda p: torch.optim.Adam(p, lr=0.03))
    trainer = Trainer(accelerator="cpu", max_epochs=8, default_root_dir=tmp_path)
    before = trainer.validate(mod, dm)["val/loss"]

    trainer.fit(mod, dm)

    train_losses = [row["train/loss"] for row in trainer.history]
    val_losses = [row["val/loss"] for row in trainer.history]
    assert train_losses[-1] < 0.6 * train_losses[0]
    assert val_losses[-1] < 0.5 * before
    if kind == "binary":
        assert trainer.callback_metrics["val/accuracy"] > 0.9
    if kind == "multiclass":
        assert trainer.callback_metrics["val/accuracy"] > 0.8
    if kind == "regression":
        assert trainer.callback_metrics["val/r2"] > 0.9


def test_evaluation_loss_is_weighted_by_rows(datamodule, module, tmp_path):
    # 100 rows in batches of 64: a batch of 64 and one of 36. A mean of batch means would be wrong.
    dm = datamodule("regression", val_rows=100)
    mod = module("regression")
    val = Trainer(accelerator="cpu", default_root_dir=tmp_path).validate(mod, dm)
    x, y = dm.val
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(mod.model(x), y).item()
    assert val["val/loss"] == pytest.approx(expected, rel=1e-5)
    assert val["val/mse"] == pytest.approx(expected, rel=1e-5)


def test_evaluation_leaves_the_module_in_training_mode_it_had(datamodule, module, tmp_path):
    dm = datamodule("binary")
    mod = module("binary", dropout=0.5)
    mod.train()
    Trainer(accelerator="cpu", default_root_dir=tmp_path).validate(mod, dm)
    assert mod.training
    mod.eval()
    Trainer(accelerator="cpu", default_root_dir=tmp_path).validate(mod, dm)
    assert not mod.training


def test_validation_is_deterministic_with_dropout(datamodule, module, tmp_path):
    # Evaluation runs the model in eval mode: dropout off, so two passes agree exactly.
    dm = datamodule("binary")
    mod = module("binary", dropout=0.5)
    trainer = Trainer(accelerator="cpu", default_root_dir=tmp_path)
    assert trainer.validate(mod, dm) == trainer.validate(mod, dm)


def test_train_loss_is_logged_every_n_steps_and_epoch_metrics_each_epoch(
    datamodule, module, memory_logger, tmp_path
):
    dm = datamodule("binary")  # 8 steps per epoch
    trainer = Trainer(
        accelerator="cpu", max_epochs=2, log_every_n_steps=3, logger=memory_logger, default_root_dir=tmp_path
    )
    trainer.fit(module("binary"), dm)
    assert [step for step, _ in memory_logger.series("train/loss_step")] == [3, 6, 9, 12, 15]
    assert memory_logger.series("epoch") == [(8, 1.0), (16, 2.0)]
    assert [step for step, _ in memory_logger.series("val/loss")] == [8, 16]


def test_fit_without_a_validation_split_trains_and_reports_train_loss_only(datamodule, module, tmp_path):
    dm = datamodule("regression", val_rows=0)
    trainer = Trainer(accelerator="cpu", max_epochs=2, default_root_dir=tmp_path)
    trainer.fit(module("regression"), dm)
    assert set(trainer.callback_metrics) == {"train/loss"}
    assert trainer.current_epoch == 2
    with pytest.raises(UserError, match="no val split"):
        trainer.validate(module("regression"), dm)


def test_empty_training_split_is_a_user_error(datamodule, module, tmp_path):
    dm = datamodule("binary")
    trainer = Trainer(accelerator="cpu", limit_train_batches=0, default_root_dir=tmp_path)
    with pytest.raises(UserError, match="limit_train_batches"):
        trainer.fit(module("binary"), dm)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("max_epochs", 0, "trainer.max_epochs=0 is out of range: it must be 1 or more"),
        (
            "accumulate_grad_batches",
            0,
            "trainer.accumulate_grad_batches=0 is out of range: it must be 1 or more",
        ),
        ("check_val_every_n_epoch", 0, "trainer.check_val_every_n_epoch=0"),
        ("log_every_n_steps", 0, "trainer.log_every_n_steps=0"),
        ("gradient_clip_val", -1.0, "gradient_clip_val=-1.0 is out of range: it must be 0 or more"),
        ("accelerator", "tpu", "trainer.accelerator='tpu' is not known"),
        ("precision", "64", "trainer.precision='64' is not supported"),
    ],
)
def test_bad_trainer_options_are_config_errors_naming_the_value(option, value, message):
    with pytest.raises(ConfigError, match=message):
        Trainer(**{option: value})


def test_save_checkpoint_before_fit_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="call fit first"):
        Trainer(accelerator="cpu").save_checkpoint(tmp_path / "x.ckpt")


def test_predict_without_a_predict_split_is_a_user_error(datamodule, module, tmp_path):
    with pytest.raises(UserError, match="no predict split"):
        Trainer(accelerator="cpu", default_root_dir=tmp_path).predict(
            module("binary"), datamodule(test_rows=0)
        )


def test_limit_predict_batches(datamodule, module, tmp_path):
    dm = datamodule("multiclass", test_rows=96, eval_batch_size=32)
    predictions = Trainer(accelerator="cpu", limit_predict_batches=2, default_root_dir=tmp_path).predict(
        module("multiclass"), dm
    )
    assert predictions.shape == (64, NUM_CLASSES)
