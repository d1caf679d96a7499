"""``scripts/probe_fraud_anomaly.py``: the unsupervised ceiling quoted in the fraud experiment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "probe_fraud_anomaly.py"


def test_rarity_scores_unseen_and_rare_values_above_common_ones() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from probe_fraud_anomaly import rarity
    finally:
        sys.path.remove(str(SCRIPT.parent))
    normal = pd.DataFrame({"colour": ["red"] * 9 + ["blue"], "size": [1] * 5 + [2] * 5})
    rows = pd.DataFrame({"colour": ["red", "blue", "green"], "size": [1, 1, 1]})
    common, rare, unseen = rarity(normal, rows)
    assert common < rare < unseen  # -log 0.9 < -log 0.1 < -log(1/11)


@pytest.mark.slow
def test_the_probe_prints_every_detector_against_no_skill_on_the_generated_claims(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "data.source.n_samples=3000"],
        cwd=tmp_path,
        env={**os.environ, "TRAINER_CONF_DIR": str(ROOT / "conf")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    no_skill = float(re.search(r"no-skill AP ([0-9.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    rows = {
        line[:42].strip(): [float(v) for v in line[42:].split()]
        for line in done.stdout.splitlines()
        if line.startswith(("rarity", "isolation", "local", "5-nearest", "PCA"))
    }
    assert len(rows) == 7, done.stdout
    for name, (ap, ratio, auc) in rows.items():
        assert 0.0 < ap <= 1.0 and 0.0 <= auc <= 1.0, name
        assert ratio == pytest.approx(ap / no_skill, abs=0.01), name
    # The generated claims hide part of their signal in unusual values: a detector finds some.
    assert max(ratio for _, ratio, _ in rows.values()) > 1.2, done.stdout
