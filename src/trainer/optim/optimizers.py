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
import numbers
import typing
from collections.abc import Callable, Iterable
from typing import Any

import torch

from trainer.errors import ConfigError
from trainer.ranges import RANGES as ALL_RANGES
from trainer.ranges import Range, check_value

#: Where these settings live in the config, for messages.
PREFIX = "optimizer"


#: The optimizer settings with a range (``trainer.ranges`` is their one table), by argument name.
RANGES: dict[str, Range] = {
    key.removeprefix(f"{PREFIX}."): allowed
    for key, allowed in ALL_RANGES.items()
    if key.startswith(f"{PREFIX}.") and key != f"{PREFIX}.betas"
}
BETA = ALL_RANGES[f"{PREFIX}.betas"]
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
        else:
            check_value(f"{PREFIX}.{key}", value)
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


def _check_betas(value: Any) -> None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ConfigError(f"{PREFIX}.betas={value!r} must be a pair; e.g. {PREFIX}.betas={BETA.usual}.")
    for beta in value:
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not BETA.holds(float(beta)):
            raise ConfigError(
                f"{PREFIX}.betas={list(value)} is out of range: each beta must be {BETA.words()} "
                f"(a beta of 1 never forgets, above 1 diverges). Fix: {PREFIX}.betas={BETA.usual}."
            )


#: Where torch's fused optimizer kernels run (MPS has some, not all: left to torch's default).
FUSED_DEVICES = frozenset({"cpu", "cuda"})
FUSED_DTYPES = frozenset({torch.float32, torch.float16, torch.bfloat16, torch.float64})


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
        # Materialised once: a generator (module.parameters()) would be used up by the check.
        params = [dict(g, params=list(g["params"])) if isinstance(g, dict) else g for g in params]
        settings = dict(self.settings)
        if self._fuses(params):
            # torch's fused kernel does the update of every tensor in one pass: measured 0.36 ms
            # against 0.56 ms per step (forward and backward included) for a small MLP on one
            # CPU thread. torch leaves it off by default; where it applies it computes the same
            # update, so it is on unless optimizer.fused or optimizer.foreach says otherwise.
            settings["fused"] = True
        return self.algorithm(params, **settings)

    def _fuses(self, params: list[Any]) -> bool:
        """Whether to turn on the fused kernel: the user chose neither it nor foreach, torch has
        one for this optimizer, and every parameter is a dense float tensor on the CPU or a GPU."""
        if self.settings.get("fused") is not None or self.settings.get("foreach") is not None:
            return False
        if self.settings.get("differentiable") or "fused" not in inspect.signature(self.algorithm).parameters:
            return False
        tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
        return bool(tensors) and all(
            isinstance(t, torch.Tensor)
            and t.device.type in FUSED_DEVICES
            and t.dtype in FUSED_DTYPES
            and not t.is_sparse
            for t in tensors
        )

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
