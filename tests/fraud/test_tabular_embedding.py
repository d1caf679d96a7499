"""The entity-embedding network: forward/backward, embeddings built from the preprocessor's layout,
and the fraud study running it (with an ensemble) on the generated claims table."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from trainer.build import build_module, build_tabular_datamodule, data_shape_arguments
from trainer.config.compose import compose_config
from trainer.config.validate import validate_config
from trainer.data.feature_layout import FeatureLayout
from trainer.errors import ConfigError
from trainer.fraud.study import run_study
from trainer.models import TabularEmbeddingNet
from trainer.models.tabular_embedding import auto_embedding_dim

from .conftest import study_overrides


@pytest.mark.parametrize("numeric_embedding", ["none", "periodic"])
def test_forward_and_backward(numeric_embedding: str) -> None:
    torch.manual_seed(0)
    # 2 numbers, then one-hot blocks of 3 and 2 categories.
    model = TabularEmbeddingNet(
        in_features=7,
        out_features=1,
        categorical_cardinalities=[3, 2],
        numeric_embedding=numeric_embedding,
        batch_norm="before",
        dropout=0.1,
        embedding_dropout=0.1,
    )
    x = torch.cat(
        [torch.randn(8, 2), torch.eye(3)[torch.randint(3, (8,))], torch.eye(2)[torch.randint(2, (8,))]], 1
    )
    out = model(x)
    assert out.shape == (8, 1)
    out.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.categorical is not None and model.categorical.weight.grad is not None


def test_a_onehot_block_is_an_embedding_lookup_and_unknown_is_zero() -> None:
    model = TabularEmbeddingNet(
        in_features=6, out_features=1, categorical_cardinalities=[3, 2], embedding_dim=4
    )
    assert model.categorical is not None
    table = (model.categorical.weight * model.categorical.mask).detach()  # (5, 8) block-diagonal
    rows = torch.tensor([[0, 1, 0, 0, 1], [0, 0, 0, 1, 0]], dtype=torch.float32)  # cat 1/1; unknown/0
    embedded = model.categorical(rows)
    assert torch.allclose(embedded[0, :4], table[1, :4]) and torch.allclose(embedded[0, 4:], table[4, 4:])
    assert torch.equal(embedded[1, :4], torch.zeros(4))  # an unseen category: all-zero block
    assert torch.allclose(embedded[1, 4:], table[3, 4:])


def test_without_categories_it_is_an_mlp_and_bad_cardinalities_are_refused() -> None:
    model = TabularEmbeddingNet(in_features=5, out_features=2)
    assert model.categorical is None and model(torch.randn(3, 5)).shape == (3, 2)
    with pytest.raises(ConfigError, match="categorical_cardinalities"):
        TabularEmbeddingNet(in_features=4, out_features=1, categorical_cardinalities=[3, 2])
    with pytest.raises(ConfigError, match="numeric_embedding"):
        TabularEmbeddingNet(in_features=4, out_features=1, numeric_embedding="fourier")
    assert auto_embedding_dim(2, max_dim=16) == 2 and auto_embedding_dim(1000, max_dim=16) == 16


def test_embeddings_are_built_from_the_preprocessor_layout(tmp_path: Path) -> None:
    composed = compose_config(
        [
            "data=fraud_claims",
            "data.source.n_samples=300",
            "model=tabular_embedding",
            "logger=none",
            f"paths.runs_dir={tmp_path}",
        ]
    )
    cfg = validate_config(composed.cfg)
    datamodule = build_tabular_datamodule(cfg)
    layout = FeatureLayout.from_preprocessor(datamodule.preprocessor_)
    widths = [len(p) for p in layout.groups.values()]
    assert widths and datamodule.categorical_cardinalities == widths
    # The blocks follow the numbers: what the model assumes when it splits its input.
    assert sorted(layout.numeric) == list(range(datamodule.num_features - sum(widths)))
    shape = data_shape_arguments(str(cfg.model._target_), datamodule)
    assert shape == {"in_features": datamodule.num_features, "categorical_cardinalities": widths}
    assert "categorical_cardinalities" not in data_shape_arguments("trainer.models.MLP", datamodule)
    module = build_module(cfg, datamodule)
    assert isinstance(module.model, TabularEmbeddingNet)
    assert module.model.cardinalities == widths
    x, _ = datamodule.tensors("val")
    assert module.model(x[:4]).shape == (4, 1)


def test_fraud_study_runs_the_embedding_network_with_an_ensemble(tmp_path: Path) -> None:
    overrides = study_overrides(
        tmp_path,
        "model=tabular_embedding",
        "model.numeric_embedding=periodic",
        "fraud.ensemble=2",
        "fraud.approaches=[weighted,smotenc,hgb]",
    )
    result = run_study(compose_config(overrides, config_name="fraud"), print_table=False)
    assert list(result.table["approach"]) == ["weighted", "smotenc", "hgb"]
    assert all(math.isfinite(v) for v in result.table["ap"])
    weighted = result.run_dir / "approaches" / "weighted"
    # The first member's best checkpoint is kept in the approach's folder; the others were
    # written to the study's scratch folder and left with it.
    assert len(list((weighted / "checkpoints").glob("*.ckpt"))) == 1 and not (weighted / "member_1").exists()


def test_ensemble_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fraud.ensemble"):
        run_study(
            compose_config(study_overrides(tmp_path, "fraud.ensemble=0"), config_name="fraud"),
            print_table=False,
        )


def test_the_packaged_embedding_model_reloads_and_scores_raw_rows(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The pyfunc package rebuilds the network with the same data-derived arguments as the run."""
    import mlflow

    from trainer.config import compose_config
    from trainer.train import train

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = train(
        compose_config(
            [
                "experiment=fraud_weighted",
                "trainer.max_epochs=1",
                "trainer.accelerator=cpu",
                "callbacks.progress=null",
                f"logger.tracking_uri={uri}",
                f"paths.runs_dir={tmp_path / 'runs'}",
            ]
        )
    )
    assert result.model_uri is not None
    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.pyfunc.load_model(result.model_uri)
    finally:
        mlflow.set_tracking_uri("")
    from trainer.fraud.claims import ClaimsSource

    rows = ClaimsSource(n_samples=200, random_state=1).load().head(6)
    predictions = model.predict(rows.drop(columns=["fraud"]))
    assert list(predictions.columns) == ["probability", "prediction"]
    assert predictions["probability"].between(0, 1).all()
