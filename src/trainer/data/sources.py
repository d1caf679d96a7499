"""Where a table comes from: scikit-learn's bundled sets, our generator, or a CSV file.

Every source returns a pandas DataFrame with the target as a column, and describes itself
(name and location) so trackers can record which data a run used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets

from trainer.data.file_sniff import Compression, compression_of, describe_file, is_text, read_head
from trainer.errors import ConfigError, DataError
from trainer.tasks import OBJECTIVES, BinaryObjective, classifier_tasks

SKLEARN_SETS = {
    "breast_cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
    "wine": datasets.load_wine,
    "diabetes": datasets.load_diabetes,
}


class TableSource(ABC):
    """Loads one table."""

    @abstractmethod
    def load(self) -> pd.DataFrame:
        """The whole table, target included."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """``name`` and ``source`` (a path or a short URI-like string)."""

    def fingerprint(self) -> tuple[Any, ...]:
        """What the loaded table depends on: the source's settings (a file source adds the
        file's size and modification time). Equal fingerprints load equal tables."""
        return (type(self).__name__, repr(sorted(vars(self).items())))


class SklearnSource(TableSource):
    """One of scikit-learn's bundled sets (no download): breast_cancer, digits, wine, diabetes.

    The target column is named ``target``.
    """

    def __init__(self, *, name: str) -> None:
        if name not in SKLEARN_SETS:
            raise ConfigError(
                f"data.source.name={name!r} is not a bundled set; choose one of {', '.join(SKLEARN_SETS)}."
            )
        self.name = name

    def load(self) -> pd.DataFrame:
        bunch = SKLEARN_SETS[self.name](as_frame=True)
        frame: pd.DataFrame = bunch.frame.copy()
        frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
        return frame

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": f"sklearn.datasets.load_{self.name}"}


class SyntheticSource(TableSource):
    """A generated table for a classifier (any class balance) or for regression.

    Args:
        kind: the task the target is drawn for, a name of :data:`trainer.tasks.OBJECTIVES`: a
            task whose objective predicts classes (``binary``, ``multiclass``) gets
            ``n_classes`` classes, one whose target is continuous (``regression``) a number.
        n_samples, n_features, n_informative: table shape and signal.
        n_classes: classes of a classifier's target (2 for ``binary``).
        weights: class proportions, e.g. ``[0.95, 0.05]`` for an imbalanced target.
        n_categorical: how many of the features to turn into text categories (quantile bins),
            so the categorical path of preprocessing is exercised too.
        noise: label noise (flip fraction) for classification, Gaussian noise for regression.
        random_state: seed of the generator.
    """

    def __init__(
        self,
        *,
        kind: str = BinaryObjective.name,
        n_samples: int = 2000,
        n_features: int = 20,
        n_informative: int = 8,
        n_classes: int = 2,
        weights: list[float] | None = None,
        n_categorical: int = 0,
        noise: float = 0.01,
        random_state: int = 0,
    ) -> None:
        continuous = [name for name, objective in OBJECTIVES.items() if not objective.needs_classes]
        if kind not in (*classifier_tasks(), *continuous):
            choices = ", ".join([*classifier_tasks(), *continuous])
            raise ConfigError(f"data.source.kind={kind!r}; choose one of {choices}.")
        if kind in classifier_tasks() and OBJECTIVES[kind].fixed_classes not in (None, n_classes):
            raise ConfigError(
                f"data.source.kind={kind} draws {OBJECTIVES[kind].fixed_classes} classes, not "
                f"data.source.n_classes={n_classes}; set data.source.kind=multiclass for more."
            )
        if not 0 <= n_categorical <= n_features:
            raise ConfigError(f"data.source.n_categorical={n_categorical} must be in [0, n_features].")
        self.kind = kind
        self.classes = kind in classifier_tasks()  # else a continuous target
        self.n_samples = n_samples
        self.n_features = n_features
        self.n_informative = min(n_informative, n_features)
        self.n_classes = n_classes
        self.weights = list(weights) if weights is not None else None
        self.n_categorical = n_categorical
        self.noise = noise
        self.random_state = random_state

    def load(self) -> pd.DataFrame:
        if self.classes:
            x, y = datasets.make_classification(
                n_samples=self.n_samples,
                n_features=self.n_features,
                n_informative=self.n_informative,
                n_redundant=0,
                n_classes=self.n_classes,
                weights=self.weights,
                flip_y=self.noise,
                random_state=self.random_state,
            )
        else:
            x, y = datasets.make_regression(
                n_samples=self.n_samples,
                n_features=self.n_features,
                n_informative=self.n_informative,
                noise=self.noise,
                random_state=self.random_state,
            )
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(self.n_features)])
        for i in range(self.n_features - self.n_categorical, self.n_features):
            bins = pd.qcut(frame[f"x{i}"], q=4, labels=["a", "b", "c", "d"])
            frame[f"x{i}"] = bins.astype(str)
            frame = frame.rename(columns={f"x{i}": f"cat{i}"})
        frame["target"] = y.astype(np.int64) if self.classes else y
        return frame

    def describe(self) -> dict[str, Any]:
        # The name says what was generated (classes or a continuous value), as it always has.
        generated = "classification" if self.classes else "regression"
        return {
            "name": f"synthetic_{generated}",
            "source": f"synthetic://{generated}?n={self.n_samples}&seed={self.random_state}",
        }


class CsvSource(TableSource):
    """A CSV file read with pandas, compressed or not (``.csv.gz``, ``.bz2``, ``.xz``, ``.zip``).

    Args:
        path: the file (relative paths are taken from the directory you run in).
        sep: column separator; ``\\t`` or ``tab`` mean a tab (Hydra keeps ``"\\t"`` as two characters).
        origin: where a user gets this file, said when it is missing (a data set's config sets it).
    """

    def __init__(self, *, path: str, sep: str = ",", origin: str | None = None) -> None:
        if not path:
            raise ConfigError("data.source.path is empty; pass data.source.path=/path/to/file.csv.")
        if not sep:
            raise ConfigError("data.source.sep is empty; pass one character, e.g. 'data.source.sep=\";\"'.")
        self.path = Path(path).expanduser()
        self.sep = SEP_ALIASES.get(sep, sep)
        self.origin = origin

    def fingerprint(self) -> tuple[Any, ...]:
        try:
            stat = self.path.resolve().stat()
            state: tuple[Any, ...] = (str(self.path.resolve()), stat.st_size, stat.st_mtime_ns)
        except OSError:  # missing: load() says so; nothing is kept for it
            state = ("missing",)
        return (*super().fingerprint(), *state)

    def load(self) -> pd.DataFrame:
        where = f"data.source.path={str(self.path)!r}"
        if not self.path.exists():
            got_it = f" {self.origin}" if self.origin else ""
            raise DataError(f"{where} does not exist; check the path (it is read from {Path.cwd()}).{got_it}")
        if self.path.is_dir():
            raise DataError(f"{where} is a folder; pass the CSV file inside it.")
        if self.path.stat().st_size == 0:
            raise DataError(f"{where} is an empty file; it needs a header row and data rows.")
        head = read_head(self.path)
        # Read compressed files by their bytes, not their name: a gzip saved as claims.csv is read too.
        compression = compression_of(head)
        if compression is None and not is_text(head):
            raise DataError(f"{where} is not a CSV file: it is {describe_file(self.path)}. Pass a CSV file.")
        kind = f" ({describe_file(self.path)})" if compression else ""
        try:
            frame = pd.read_csv(self.path, sep=self.sep, compression=compression)
        except pd.errors.EmptyDataError:
            raise DataError(f"{where} has no columns; it needs a header row and data rows.") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            self._raise_if_other_separator(where, compression)
            reason = " ".join(str(exc).split())  # pandas ends its message with a newline: keep one line
            raise DataError(
                f"{where}{kind} could not be parsed as CSV: {reason}. Check data.source.sep."
            ) from exc
        except (OSError, ValueError, RuntimeError, ImportError) as exc:
            # A damaged archive, a zip holding several files, a missing zstandard package...
            raise DataError(
                f"{where} is {describe_file(self.path)} that could not be read as a compressed CSV: "
                f"{' '.join(str(exc).split())}"
            ) from exc
        if len(frame.columns) == 1:
            self._raise_if_other_separator(where, compression)
        if frame.empty:
            raise DataError(f"{where} has a header but no data rows.")
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame

    def _raise_if_other_separator(self, where: str, compression: Compression | None) -> None:
        """A file split by another separator reads as one column or fails: name the one it uses."""
        try:
            found = detect_separator(self._first_lines(compression), exclude=self.sep)
        except (OSError, ValueError, RuntimeError, ImportError, UnicodeDecodeError):
            return  # the caller's own message still applies
        if found is not None:
            name, override = SEPARATORS[found]
            raise DataError(
                f"{where} looks separated by {name}, not {self.sep!r}; pass {override} on the command line."
            )

    def _first_lines(self, compression: Compression | None, limit: int = 50) -> list[str]:
        # pandas opens compressed files the same way for read_csv; reuse its opener.
        from pandas.io.common import get_handle

        with get_handle(self.path, "r", compression=compression, errors="replace") as handles:
            lines = []
            for line in handles.handle:
                lines.append(str(line).rstrip("\r\n"))
                if len(lines) >= limit:
                    break
        return [line for line in lines if line.strip()]

    def describe(self) -> dict[str, Any]:
        return {"name": self.path.stem, "source": str(self.path.resolve())}


#: Spellings of a tab that a command line can carry; Hydra reads "\t" as backslash + t.
SEP_ALIASES = {"\\t": "\t", "tab": "\t", "TAB": "\t"}

#: Separators we recognise -> (their name, the override that selects them, quoted for a POSIX
#: shell and for Hydra: the single quotes keep ';' and '"' from the shell, the double quotes make
#: Hydra read the value as a string).
SEPARATORS = {
    ",": ("commas (',')", """'data.source.sep=","'"""),
    ";": ("semicolons (';')", """'data.source.sep=";"'"""),
    "\t": ("tabs", """'data.source.sep="\\t"'"""),
    "|": ("pipes ('|')", """'data.source.sep="|"'"""),
}


def detect_separator(lines: list[str], *, exclude: str = "") -> str | None:
    """The separator that splits ``lines`` into the same number (>1) of fields on most lines.

    Args:
        lines: the file's first non-blank lines, header first.
        exclude: the separator already tried.

    Returns:
        One of :data:`SEPARATORS`' keys, or ``None`` when none fits.
    """
    if len(lines) < 1:
        return None
    best: tuple[int, str] | None = None
    for sep in SEPARATORS:
        if sep == exclude:
            continue
        width = lines[0].count(sep)
        if width == 0:
            continue
        # Quoted fields may hold the separator; most lines agreeing with the header is enough.
        agreeing = sum(line.count(sep) == width for line in lines[1:])
        if len(lines) > 1 and agreeing < 0.8 * (len(lines) - 1):
            continue
        if best is None or width > best[0]:
            best = (width, sep)
    return best[1] if best else None
