"""Text classification: a CSV of texts and labels (or a generated corpus) as bags of words or ids.

``features=bow`` or ``tfidf`` turns each text into a vector over a vocabulary fitted on the
training texts only (scikit-learn's vectorisers), for the MLP. ``features=ids`` turns it into
token ids of that vocabulary (0 pads), for the EmbeddingBag model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.model_selection import train_test_split

from trainer.data.base import TensorDataModule
from trainer.data.preprocessing import check_columns
from trainer.data.sources import CsvSource
from trainer.data.splits import check_row_count
from trainer.errors import ConfigError, DataError
from trainer.tasks import AUTO_TASK, classifier_tasks, infer_task, objective_class

log = logging.getLogger(__name__)

TEXT_FEATURES = ("bow", "tfidf", "ids")

#: Topic words of the generated corpus; every document also draws from the shared filler words.
TOPICS = {
    "sport": "match goal team player coach season score league win cup referee stadium",
    "weather": "rain sun wind storm cloud forecast snow cold warm temperature frost humid",
    "tech": "software chip computer network data code server phone battery update cloud app",
    "food": "recipe bread cheese soup dinner taste cook oven salad spice sweet fresh",
}
FILLER = "the a of and to in is it that for on with was as at by this from be are"


def generated_corpus(*, n_docs: int = 1200, seed: int = 0) -> pd.DataFrame:
    """Short documents about one of four topics, with filler words and words of other topics.

    About 30% of a document's words come from its topic, 10% from another topic (so single
    words mislead), the rest are filler; a linear model on word counts reaches high but not
    perfect accuracy. Columns: ``text``, ``label``.
    """
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    texts, labels = [], []
    for i in range(n_docs):
        topic = names[i % len(names)]
        other = names[(i + 1 + rng.integers(len(names) - 1)) % len(names)]
        length = int(rng.integers(8, 25))
        pools = rng.choice(3, size=length, p=[0.3, 0.1, 0.6])
        words = [
            str(rng.choice((TOPICS[topic] if k == 0 else TOPICS[other] if k == 1 else FILLER).split()))
            for k in pools
        ]
        texts.append(" ".join(words))
        labels.append(topic)
    return pd.DataFrame({"text": texts, "label": labels})


class TextDataModule(TensorDataModule):
    """Texts with a label, split stratified, vectorised with a vocabulary fitted on train only.

    Args:
        path: a CSV file with a text column and a label column; ``None`` uses the generated corpus.
        text_column, label_column: the CSV's columns.
        features: ``bow`` (word counts), ``tfidf`` or ``ids`` (token ids, 0 pads, for EmbeddingBag).
        vocab_size: keep the most frequent words of the training texts.
        ngram_max: largest n-gram of ``bow``/``tfidf`` features (1: words only).
        max_length: ``ids`` only: tokens kept per text (longer texts are cut, shorter padded).
        n_docs: documents of the generated corpus.
        task: ``auto`` (binary for two labels, else multiclass), ``binary`` or ``multiclass``.
        val_fraction, test_fraction: shares held out (stratified by label).
        batch_size, eval_batch_size, loader, num_workers, drop_last, seed: see
            :class:`~trainer.data.base.TensorDataModule`.
    """

    def __init__(
        self,
        *,
        path: str | None = None,
        text_column: str = "text",
        label_column: str = "label",
        features: str = "tfidf",
        vocab_size: int = 2000,
        ngram_max: int = 1,
        max_length: int = 64,
        n_docs: int = 1200,
        task: str = "auto",
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = 64,
        eval_batch_size: int = 1024,
        loader: str = "device",
        num_workers: int = 0,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            loader=loader,
            num_workers=num_workers,
            drop_last=drop_last,
            seed=seed,
        )
        if features not in TEXT_FEATURES:
            raise ConfigError(f"data.features={features!r}; choose one of {', '.join(TEXT_FEATURES)}.")
        # Texts are labelled with classes: any task whose objective predicts classes will do.
        if task != AUTO_TASK and task not in classifier_tasks():
            *others, last = [AUTO_TASK, *classifier_tasks()]
            choices = f"{', '.join(others)} or {last}"
            raise ConfigError(f"data.task={task!r}; text data takes {choices}.")
        for key, value in (("vocab_size", vocab_size), ("ngram_max", ngram_max), ("max_length", max_length)):
            if value < 1:
                raise ConfigError(f"data.{key}={value} must be 1 or more.")
        self.path = path
        self.text_column = text_column
        self.label_column = label_column
        self.features = features
        self.vocab_size = vocab_size
        self.ngram_max = ngram_max
        self.max_length = max_length
        self.n_docs = n_docs
        self.task = task
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    def _load(self) -> tuple[pd.DataFrame, str]:
        if self.path is None:
            return generated_corpus(n_docs=self.n_docs, seed=self.seed), "generated://topics"
        source = CsvSource(path=self.path)
        frame = source.load()
        where = str(Path(self.path).expanduser())
        check_columns(frame, [self.text_column], key="data.text_column", where=where)
        check_columns(frame, [self.label_column], key="data.label_column", where=where)
        frame = frame[[self.text_column, self.label_column]].rename(
            columns={self.text_column: "text", self.label_column: "label"}
        )
        if frame["label"].isna().any():
            raise DataError(f"data.label_column={self.label_column!r} has missing values in {where}.")
        frame["text"] = frame["text"].fillna("").astype(str)
        return frame, where

    def setup(self) -> None:
        """Load, split stratified, fit the vocabulary on the training texts and vectorise (idempotent)."""
        if self._ready:
            return
        frame, self.where_ = self._load()
        check_row_count(
            len(frame), val_fraction=self.val_fraction, test_fraction=self.test_fraction, where=self.where_
        )
        self.task = infer_task(frame["label"]) if self.task == AUTO_TASK else self.task
        labels, self.classes_ = objective_class(self.task).encode_labels(
            frame["label"], column=self.label_column, where=self.where_
        )
        index = np.arange(len(frame))
        rest, test = train_test_split(
            index, test_size=self.test_fraction, stratify=labels, random_state=self.seed
        )
        train, val = train_test_split(
            rest,
            test_size=self.val_fraction / (1 - self.test_fraction),
            stratify=labels[rest],
            random_state=self.seed,
        )
        self.frames_ = {
            name: frame.iloc[rows].reset_index(drop=True)
            for name, rows in (("train", train), ("val", val), ("test", test))
        }
        vectorizer_type = TfidfVectorizer if self.features == "tfidf" else CountVectorizer
        ngrams = (1, 1) if self.features == "ids" else (1, self.ngram_max)
        self.vectorizer_ = vectorizer_type(max_features=self.vocab_size, ngram_range=ngrams)
        self.vectorizer_.fit(self.frames_["train"]["text"])  # the vocabulary of training texts only
        for name, rows in (("train", train), ("val", val), ("test", test)):
            texts = self.frames_[name]["text"]
            self._tensors[name] = (self.transform(texts), torch.as_tensor(labels[rows]))
        self._ready = True
        log.info("Texts %s: %s, vocabulary %d.", self.where_, self.split_sizes(), self.vocabulary_size)

    @property
    def vocabulary_size(self) -> int:
        return len(self.vectorizer_.vocabulary_)

    @property
    def num_features(self) -> int:
        """The vectors' width, or for token ids the embedding table's rows (vocabulary + padding)."""
        self.setup()
        return self.vocabulary_size + 1 if self.features == "ids" else self.vocabulary_size

    def transform(self, texts: pd.Series) -> torch.Tensor:
        """Texts -> ``(n, vocabulary)`` float32 vectors, or ``(n, max_length)`` int64 token ids."""
        if self.features != "ids":
            return torch.as_tensor(self.vectorizer_.transform(texts).toarray(), dtype=torch.float32)
        analyze = self.vectorizer_.build_analyzer()
        vocabulary = self.vectorizer_.vocabulary_
        ids = np.zeros((len(texts), self.max_length), dtype=np.int64)  # 0 = padding
        for row, text in enumerate(texts):
            # Words outside the training vocabulary are dropped; ids shift by one past the pad.
            tokens = [vocabulary[w] + 1 for w in analyze(text) if w in vocabulary][: self.max_length]
            ids[row, : len(tokens)] = tokens
        return torch.as_tensor(ids)

    def datasets(self) -> dict[str, pd.DataFrame]:
        self.setup()
        return dict(self.frames_)

    def describe(self) -> dict[str, Any]:
        self.setup()
        return {
            "name": "generated_topics" if self.path is None else Path(self.path).stem,
            "source": self.where_,
            "target": "label",
            "task": self.task,
            "features": self.features,
            "vocabulary": self.vocabulary_size,
            **self.split_sizes(),
        }
