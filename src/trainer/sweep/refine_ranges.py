"""Coarse-to-fine: a second study whose numeric ranges shrink around the best trials of a first.

For each numeric parameter the new range spans the values of the top-k trials, widened by a
margin (in log space for log-scale parameters) and kept inside the first range; categorical
parameters keep the choices the top-k trials used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import optuna

from trainer.errors import UserError
from trainer.sweep.report import ranked_trials
from trainer.sweep.space import Param, SearchSpace, decode_choice, encode_choice

#: Fraction of the top-k span (or, for a single point, of the first range) added on each side.
MARGIN = 0.25


def top_trials(study: optuna.Study, *, k: int) -> list[optuna.trial.FrozenTrial]:
    """The best ``k`` complete trials (the Pareto front for several objectives).

    Raises:
        UserError: the study has no complete trial to refine around.
    """
    ranked = ranked_trials(study)
    if not ranked:
        raise UserError(f"Study {study.study_name!r} has no complete trial to refine around; run it first.")
    if len(study.directions) > 1:
        front = {t.number for t in study.best_trials}
        return [t for t in ranked if t.number in front][: max(k, 1)]
    return ranked[:k]


def refine_space(
    space: SearchSpace, trials: Sequence[optuna.trial.FrozenTrial], *, margin: float = MARGIN
) -> SearchSpace:
    """The narrowed space around ``trials``; parameters no trial sampled stay as they were."""
    return SearchSpace(params=tuple(_refine_param(p, trials, margin) for p in space.params))


def _refine_param(param: Param, trials: Sequence[optuna.trial.FrozenTrial], margin: float) -> Param:
    seen = [t.params[param.key] for t in trials if param.key in t.params]
    if not seen:
        return param
    if not param.numeric:
        used = {encode_choice(decode_choice(v)) for v in seen}
        choices = tuple(c for c in param.choices if encode_choice(c) in used)
        return Param(
            key=param.key, kind=param.kind, choices=choices or param.choices, when=param.when, raw=param.raw
        )
    assert param.low is not None and param.high is not None
    forward, backward = (math.log, math.exp) if param.log else (float, float)
    lo0, hi0 = forward(param.low), forward(param.high)
    values = [forward(float(v)) for v in seen]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * margin if hi > lo else (hi0 - lo0) * margin / 2
    new_lo, new_hi = max(lo0, lo - pad), min(hi0, hi + pad)
    low, high = backward(new_lo), backward(new_hi)
    if param.step is not None:  # stay on the first stage's grid
        low = param.low + math.floor((low - param.low) / param.step + 1e-9) * param.step
        high = param.low + math.ceil((high - param.low) / param.step - 1e-9) * param.step
        high = min(high, param.high)
    if param.kind == "int":
        low, high = math.floor(low), math.ceil(high)
    if not low < high:  # a one-point range: keep one step (or a sliver) of room
        high = min(param.high, low + (param.step or (1 if param.kind == "int" else abs(low) * 1e-3 or 1e-6)))
        low = high - (param.step or (1 if param.kind == "int" else abs(low) * 1e-3 or 1e-6))
    return Param(
        key=param.key,
        kind=param.kind,
        low=float(max(low, param.low)),
        high=float(min(high, param.high)),
        log=param.log,
        step=param.step,
        when=param.when,
    )


def describe_change(before: SearchSpace, after: SearchSpace) -> list[str]:
    """One line per parameter whose range or choices changed (for the console and the parent run)."""
    lines = []
    for old, new in zip(before.params, after.params, strict=True):
        if old.numeric and (old.low, old.high) != (new.low, new.high):
            lines.append(f"  {old.key}: [{old.low:.4g}, {old.high:.4g}] -> [{new.low:.4g}, {new.high:.4g}]")
        elif not old.numeric and old.choices != new.choices:
            lines.append(f"  {old.key}: {list(old.choices)} -> {list(new.choices)}")
    return lines
