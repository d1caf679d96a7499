"""The optimizer group's targets: torch optimizers whose settings are checked when the config is built.

``conf/optimizer/adam.yaml`` names ``trainer.optim.optimizers.Adam``. Building it checks every
setting and returns an :class:`OptimizerFactory`, which the Trainer later calls with the
model's parameters. torch itself checks only some settings, and only once training starts
("ValueError: Invalid learning rate: -0.001" after the run folder and the tracking run were
made); others it takes silently and then diverges (momentum 1.5, betas of 1, eps of 0).

Each factory has the signature of its torch class without ``params``, so the config checks
(unknown keys, wrong types) read it as they would read torch's; defaults stay torch's own. That
includes torch's implementation switches, ``foreach`` and, for SGD, Adagrad, Adam and AdamW,
``fused`` (one kernel for the whole step, on CPU and CUDA): ``optimizer.fused=true`` passes
straight through (measured in ``experiments/performance/README.md``).
"""

from __future__ import annotations

import inspect
import math
import numbers
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from trainer.errors import ConfigError

#: Where these settings live in the config, for messages.
PREFIX = "optimizer"


@dataclass(frozen=True)
class Range:
    """Where a setting makes sense, and a usual value to offer as the fix."""

    low: float
    high: float = math.inf
    low_open: bool = False  # True: low itself is out (lr, eps)
    high_open: bool = True  # True: high itself is out (momentum 1 never forgets)
    usual: str = ""

    def holds(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def words(self) -> str:
        if self.high == math.inf:
            return "greater than 0" if self.low_open and self.low == 0 else f"{self.low:g} or more"
        return (
            f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        )


#: Every numeric setting of torch's optimizers we know, across classes.
RANGES: dict[str, Range] = {
    "lr": Range(0, low_open=True, usual="0.001"),  # 0 trains nothing, below 0 climbs the loss
    "momentum": Range(0, 1, usual="0.9"),
    "dampening": Range(0, 1, usual="0"),
    "weight_decay": Range(0, usual="0.01"),
    "eps": Range(0, low_open=True, usual="1e-8"),  # 0 divides by zero on a flat gradient
    "alpha": Range(0, 1, usual="0.99"),  # RMSprop's decay of the squared-gradient average
    "lr_decay": Range(0, usual="0"),
    "initial_accumulator_value": Range(0, usual="0"),
    "momentum_decay": Range(0, usual="0.004"),
}
BETA = Range(0, 1, usual="[0.9,0.999]")
#: torch's switches between implementations of one algorithm (the same step, other kernels).
IMPLEMENTATION_SWITCHES = ("foreach", "fused")


def check_settings(settings: dict[str, Any]) -> None:
    """Raise one ConfigError for the first out-of-range setting, naming key, value and fix.

    Args:
        settings: an optimizer's keyword arguments as the config gives them.

    Raises:
        ConfigError: e.g. ``optimizer.lr=-0.001 is out of range: it must be greater than 0.``
    """
    for key, value in settings.items():
        if key == "betas":
            _check_betas(value)
        elif key in RANGES and value is not None:
            _check_number(key, value, RANGES[key])
    for key in IMPLEMENTATION_SWITCHES:
        value = settings.get(key)
        if value is not None and not isinstance(value, bool):
            raise ConfigError(
                f"{PREFIX}.{key}={value!r} must be true, false or null (null lets torch choose). "
                f"Fix: {PREFIX}.{key}=true"
            )
    if settings.get("fused") and settings.get("foreach"):
        raise ConfigError(
            f"{PREFIX}.fused=true and {PREFIX}.foreach=true cannot both be on: fused runs the whole step "
            f"as one kernel, foreach as batched ones. Fix: {PREFIX}.foreach=null (keep fused) or "
            f"{PREFIX}.fused=null."
        )
    if settings.get("nesterov") and (settings.get("momentum", 0) <= 0 or settings.get("dampening", 0) != 0):
        raise ConfigError(
            f"{PREFIX}.nesterov=true needs momentum above 0 and no dampening (momentum="
            f"{settings.get('momentum', 0)}, dampening={settings.get('dampening', 0)}). Fix: "
            f"{PREFIX}.momentum=0.9 {PREFIX}.dampening=0, or {PREFIX}.nesterov=false."
        )


def _check_number(key: str, value: Any, allowed: Range) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{PREFIX}.{key}={value!r} must be a number; e.g. {PREFIX}.{key}={allowed.usual}.")
    if math.isnan(value) or not allowed.holds(float(value)):
        raise ConfigError(
            f"{PREFIX}.{key}={value} is out of range: it must be {allowed.words()}. "
            f"Fix: {PREFIX}.{key}={allowed.usual} (the usual value) or another value {allowed.words()}."
        )


def _check_betas(value: Any) -> None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ConfigError(f"{PREFIX}.betas={value!r} must be a pair; e.g. {PREFIX}.betas={BETA.usual}.")
    for beta in value:
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not BETA.holds(float(beta)):
            raise ConfigError(
                f"{PREFIX}.betas={list(value)} is out of range: each beta must be {BETA.words()} "
                f"(a beta of 1 never forgets, above 1 diverges). Fix: {PREFIX}.betas={BETA.usual}."
            )


class OptimizerFactory:
    """Checked settings for one torch optimizer class; call it with parameters to build one.

    Args:
        algorithm: the torch optimizer class.
        settings: its keyword arguments.

    Raises:
        ConfigError: a setting is out of range, or torch refuses the settings.
    """

    def __init__(self, algorithm: type[torch.optim.Optimizer], settings: dict[str, Any]) -> None:
        check_settings(settings)
        self.algorithm = algorithm
        self.settings = dict(settings)
        self._try_once()

    def __call__(self, params: Iterable[Any]) -> torch.optim.Optimizer:
        return self.algorithm(params, **self.settings)

    def __repr__(self) -> str:
        return f"OptimizerFactory({self.algorithm.__name__}, {self.settings})"

    def _try_once(self) -> None:
        """Build over one throwaway parameter, so torch's own checks also run now, not mid-run."""
        if self.settings.get("fused") or self.settings.get("capturable"):
            return  # these need the run's device; a CPU trial would refuse them falsely
        try:
            self([torch.zeros(1, requires_grad=True)])
        except (ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split())
            raise ConfigError(
                f"{PREFIX} settings {self.settings} are refused by torch.optim.{self.algorithm.__name__}: "
                f"{reason}. Fix the value in {PREFIX}.<key> on the command line or in conf/optimizer/."
            ) from None


def _checked(algorithm: type[torch.optim.Optimizer]) -> Callable[..., OptimizerFactory]:
    """A config target for ``algorithm``: its keyword settings in, an :class:`OptimizerFactory` out."""

    def build(**settings: Any) -> OptimizerFactory:
        return OptimizerFactory(algorithm, settings)

    torch_signature = inspect.signature(algorithm)
    options = [
        option.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for name, option in torch_signature.parameters.items()
        if name != "params"
    ]
    try:
        hints = {k: v for k, v in typing.get_type_hints(algorithm.__init__).items() if k != "params"}
    except Exception:  # unresolvable annotations: the config check then looks at names only
        hints = {}
    # The config checks read the signature and hints of the target: give them torch's.
    build.__signature__ = torch_signature.replace(parameters=options, return_annotation=OptimizerFactory)  # type: ignore[attr-defined]
    build.__annotations__ = {**hints, "return": OptimizerFactory}
    build.__name__ = build.__qualname__ = algorithm.__name__
    build.__doc__ = f"Checked settings for :class:`torch.optim.{algorithm.__name__}` (see its documentation)."
    return build


SGD = _checked(torch.optim.SGD)
Adagrad = _checked(torch.optim.Adagrad)
RMSprop = _checked(torch.optim.RMSprop)
Adam = _checked(torch.optim.Adam)
AdamW = _checked(torch.optim.AdamW)
NAdam = _checked(torch.optim.NAdam)
Adamax = _checked(torch.optim.Adamax)
