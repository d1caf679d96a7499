"""Image and text datamodules: shapes, train-only statistics and vocabularies, clear config errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainer.data import ImageDataModule, TextDataModule
from trainer.data.text import generated_corpus
from trainer.errors import ConfigError, DataError


def test_digits_as_images() -> None:
    dm = ImageDataModule(name="digits", seed=3)
    dm.setup()
    assert dm.input_shape == (1, 8, 8) and dm.num_features == 64 and dm.num_classes == 10
    sizes = [len(dm.labels(s)) for s in ("train", "val", "test")]
    assert sum(sizes) == 1797 and sizes[0] > 1000
    assert abs(float(dm.tensors("train")[0].mean())) < 1e-4
    assert list(dm.datasets()) == ["train", "val", "test"]


def test_fashion_mnist_without_a_folder_says_what_to_pass() -> None:
    with pytest.raises(ConfigError, match=r"data\.folder"):
        ImageDataModule(name="fashion_mnist")


@pytest.mark.parametrize("features", ["bow", "tfidf", "ids"])
def test_text_features(features: str) -> None:
    dm = TextDataModule(features=features, vocab_size=50, max_length=16, n_docs=200)
    dm.setup()
    x, y = dm.tensors("train")
    assert dm.task == "multiclass" and dm.classes_ == ["food", "sport", "tech", "weather"]
    if features == "ids":
        assert x.dtype == torch.int64 and x.shape[1] == 16 and dm.num_features == dm.vocabulary_size + 1
        assert int(x.max()) <= dm.vocabulary_size and int(x.min()) == 0
    else:
        assert x.dtype == torch.float32 and x.shape[1] == dm.num_features == dm.vocabulary_size <= 50
    assert len(y) == len(x)


def test_the_vocabulary_comes_from_training_texts_only(tmp_path: Path) -> None:
    lines = ["text,label"] + [f"alpha beta {i},{i % 2}" for i in range(40)]
    lines += ["onlyintest zeta,0", "onlyintest zeta,1"] * 3
    path = tmp_path / "texts.csv"
    path.write_text("\n".join(lines) + "\n")
    dm = TextDataModule(path=str(path), features="bow", vocab_size=100, test_fraction=0.15, seed=0)
    dm.setup()
    train_words = " ".join(dm.frames_["train"]["text"]).split()
    assert set(dm.vectorizer_.vocabulary_) <= set(train_words)
    assert dm.task == "binary"


def test_text_csv_errors_name_the_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    generated_corpus(n_docs=40).rename(columns={"text": "review"}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"data\.text_column='text'"):
        TextDataModule(path=str(path)).setup()
    dm = TextDataModule(path=str(path), text_column="review")
    dm.setup()
    assert dm.describe()["name"] == "t"
    with pytest.raises(ConfigError, match=r"data\.features"):
        TextDataModule(features="words")
