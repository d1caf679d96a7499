"""Gradient and activation health: what a user looks at to see vanishing, exploding or saturation.

Once per sampled epoch the callback watches the epoch's first training batch through hooks:
forward hooks on activation modules (sigmoid, tanh, ReLU family, ...) and gradient hooks on
parameters. The hooks exist for that one batch only and are removed at once, so the loop pays
nothing on the other steps, and nothing at all when the callback is not configured.

Each sampled epoch it logs, per layer, the gradient norm and the weight norm, and per activation
layer the fraction of saturated units (sigmoid/tanh outputs within ``saturation_margin`` of a
bound) or dead units (ReLU units that output zero for every row of the batch), plus the output's
mean and standard deviation. At the end of the fit it draws ``figures/health.png``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from trainer.engine.callbacks.base import Callback
from trainer.errors import ConfigError

if TYPE_CHECKING:
    from torch.utils.hooks import RemovableHandle

    from trainer.engine.module import TrainingModule
    from trainer.engine.trainer import Trainer

log = logging.getLogger(__name__)

#: Activations whose outputs have bounds a unit can get stuck at: (low, high).
BOUNDED = {nn.Sigmoid: (0.0, 1.0), nn.Tanh: (-1.0, 1.0)}
#: Activations whose units die: zero output (so zero gradient) for every input.
RECTIFIERS = (nn.ReLU, nn.ReLU6)
#: Every activation module watched (others, e.g. SELU or GELU, get mean and std only).
WATCHED = (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU)


def _per_unit(output: torch.Tensor) -> torch.Tensor:
    """``(rows, units)`` view of an activation output: features or channels are the units."""
    if output.dim() <= 1:
        return output.reshape(-1, 1)
    if output.dim() == 2:
        return output
    return output.movedim(1, -1).reshape(-1, output.shape[1])  # (N, C, ...) -> (N*..., C)


def activation_stats(module: nn.Module, output: torch.Tensor, *, margin: float) -> dict[str, torch.Tensor]:
    """Health numbers of one activation layer's output, as 0-d tensors (no device sync here).

    Args:
        module: the activation module (its type decides which numbers make sense).
        output: what it produced for the sampled batch.
        margin: distance from a bound, as a fraction of the output range, that counts as saturated.

    Returns:
        ``mean`` and ``std`` always; ``saturated`` for sigmoid/tanh; ``dead`` for ReLU.
    """
    values = _per_unit(output.detach().float())
    stats = {"mean": values.mean(), "std": values.std(unbiased=False)}
    for kind, (low, high) in BOUNDED.items():
        if isinstance(module, kind):
            band = margin * (high - low)
            stats["saturated"] = ((values < low + band) | (values > high - band)).float().mean()
    if isinstance(module, RECTIFIERS):
        stats["dead"] = (values <= 0).all(dim=0).float().mean()  # a unit dead for the whole batch
    return stats


class HealthMonitor(Callback):
    """Per-layer gradient and weight norms and activation saturation, sampled once per epoch.

    Args:
        every_n_epochs: sample every n-th epoch (the first and last sampled epochs are drawn).
        saturation_margin: a sigmoid/tanh output within this fraction of its range from a bound
            counts as saturated (its derivative is then nearly zero).
        flag_fraction: an activation layer is flagged when more than this fraction of its
            outputs are saturated, or of its units are dead.
        vanishing_ratio: flag vanishing gradients when the first weighted layer's gradient norm
            is below this multiple of the last one's.
        exploding_ratio: flag exploding gradients when it is above this multiple.
        exploding_norm: flag exploding gradients when any layer's gradient norm exceeds this.
        figure: draw ``figures/health.png`` at the end of the fit and hand it to the logger.
    """

    def __init__(
        self,
        *,
        every_n_epochs: int = 1,
        saturation_margin: float = 0.01,
        flag_fraction: float = 0.5,
        vanishing_ratio: float = 1e-3,
        exploding_ratio: float = 1e3,
        exploding_norm: float = 1e3,
        figure: bool = True,
    ) -> None:
        if every_n_epochs < 1:
            raise ConfigError(f"callbacks.health.every_n_epochs={every_n_epochs} must be 1 or more.")
        if not 0.0 < saturation_margin < 0.5:
            raise ConfigError(f"callbacks.health.saturation_margin={saturation_margin} must be in (0, 0.5).")
        if not 0.0 <= flag_fraction <= 1.0:
            raise ConfigError(f"callbacks.health.flag_fraction={flag_fraction} must be in [0, 1].")
        if not 0.0 < vanishing_ratio < 1.0 < exploding_ratio:
            raise ConfigError(
                "callbacks.health needs 0 < vanishing_ratio < 1 < exploding_ratio; got "
                f"vanishing_ratio={vanishing_ratio}, exploding_ratio={exploding_ratio}."
            )
        self.every_n_epochs = every_n_epochs
        self.saturation_margin = saturation_margin
        self.flag_fraction = flag_fraction
        self.vanishing_ratio = vanishing_ratio
        self.exploding_ratio = exploding_ratio
        self.exploding_norm = exploding_norm
        self.figure = figure
        #: one entry per sampled epoch: {"epoch": n, "<metric>": value, ...}
        self.history: list[dict[str, float]] = []
        #: every problem found, as (epoch, kind, message); kinds: vanishing, exploding, saturated, dead
        self.findings: list[tuple[int, str, str]] = []
        self.figure_path: Path | None = None
        self._handles: list[RemovableHandle] = []
        self._grad_sq: dict[str, torch.Tensor] = {}  # parameter name -> squared gradient norm
        self._acts: dict[str, dict[str, torch.Tensor]] = {}
        self._grad_scale = 1.0

    @property
    def flags(self) -> set[str]:
        """The kinds of problem found so far (empty for a healthy network)."""
        return {kind for _, kind, _ in self.findings}

    # ------------------------------------------------------------------ hooks of the loop
    def on_train_epoch_start(self, trainer: Trainer, module: TrainingModule) -> None:
        if trainer.current_epoch % self.every_n_epochs != 0:
            return
        self._remove_hooks()
        self._grad_sq, self._acts = {}, {}
        # The sampled gradient is that of the first backward: of loss / accumulate, times the
        # loss scale under fp16. Undo both so the norms compare across settings.
        scaler = trainer.grad_scaler
        scale = float(scaler.get_scale()) if scaler.is_enabled() else 1.0
        self._grad_scale = trainer.accumulate_grad_batches / scale
        for name, layer in module.model.named_modules():
            if isinstance(layer, WATCHED):
                self._handles.append(layer.register_forward_hook(self._activation_hook(name or "output")))
        for name, parameter in module.model.named_parameters():
            if parameter.requires_grad:
                self._handles.append(parameter.register_hook(self._gradient_hook(name)))

    def on_train_batch_end(self, trainer: Trainer, module: TrainingModule, loss: Any) -> None:
        self._remove_hooks()  # one batch per sampled epoch; every later step runs hook-free

    def on_train_epoch_end(self, trainer: Trainer, module: TrainingModule, metrics: dict[str, float]) -> None:
        self._remove_hooks()
        if not self._grad_sq and not self._acts:
            return
        sample = self._collect(module.model)
        self._grad_sq, self._acts = {}, {}
        epoch = trainer.current_epoch
        self.history.append({"epoch": float(epoch), **sample})
        trainer.log_metrics({f"health/{k}": v for k, v in sample.items()}, step=trainer.global_step)
        for kind, message in self.diagnose(sample):
            if kind not in self.flags:  # warn once per kind; the figure and metrics show the rest
                log.warning("Epoch %d: %s", epoch, message)
            self.findings.append((epoch, kind, message))

    def on_fit_end(self, trainer: Trainer, module: TrainingModule) -> None:
        self._remove_hooks()
        if not self.history:
            return
        if self.findings:
            kinds = ", ".join(sorted(self.flags))
            log.warning("Network health: %s found (see health/* metrics and figures/health.png).", kinds)
        else:
            log.info("Network health: no vanishing, exploding, saturated or dead layers found.")
        if self.figure and not trainer.fast_dev_run and trainer.is_global_zero:
            directory = Path(trainer.default_root_dir) / "figures"
            directory.mkdir(parents=True, exist_ok=True)
            self.figure_path = draw_health(self.history, directory / "health.png")
            trainer.logger.log_artifact(self.figure_path, artifact_path="figures")

    def on_exception(self, trainer: Trainer, module: TrainingModule, exception: BaseException) -> None:
        self._remove_hooks()

    def state_dict(self) -> dict[str, Any]:
        return {"history": [dict(row) for row in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = [dict(row) for row in state.get("history", [])]

    # ------------------------------------------------------------------ decisions (pure)
    def diagnose(self, sample: dict[str, float]) -> list[tuple[str, str]]:
        """The problems one epoch's sample shows, as ``(kind, message)``; empty when healthy.

        Args:
            sample: the epoch's numbers, keyed ``grad_norm/<layer>``, ``saturated/<layer>``,
                ``dead/<layer>`` (as logged, without the ``health/`` prefix).
        """
        found: list[tuple[str, str]] = []
        grads = [(k.split("/", 1)[1], v) for k, v in sample.items() if k.startswith("grad_norm/")]
        if any(not math.isfinite(v) for _, v in grads):
            found.append(("exploding", "a gradient norm is not finite: the gradients exploded."))
        finite = [(name, v) for name, v in grads if math.isfinite(v)]
        if finite:
            (first_name, first), (last_name, last) = finite[0], finite[-1]
            biggest = max(v for _, v in finite)
            ratio = first / last if last > 0 else (math.inf if first > 0 else 1.0)
            if biggest > self.exploding_norm or ratio > self.exploding_ratio:
                found.append(
                    (
                        "exploding",
                        f"exploding gradients: largest layer gradient norm {biggest:.3g}, "
                        f"{first_name}/{last_name} ratio {ratio:.3g}. Lower the learning rate, clip "
                        "gradients (trainer.gradient_clip_val=1.0), or use batch norm.",
                    )
                )
            elif len(finite) > 1 and ratio < self.vanishing_ratio:
                found.append(
                    (
                        "vanishing",
                        f"vanishing gradients: {first_name} gets {ratio:.3g} times the gradient norm of "
                        f"{last_name}. Use ReLU-family activations with He init (or SELU with LeCun "
                        "init), batch norm, or a shallower network.",
                    )
                )
        for key, value in sample.items():
            kind, _, layer = key.partition("/")
            if kind in ("saturated", "dead") and value > self.flag_fraction:
                what = "outputs saturated" if kind == "saturated" else "units dead"
                fix = (
                    "use Glorot init for sigmoid/tanh or switch to ReLU with He init"
                    if kind == "saturated"
                    else "lower the learning rate, use He init, or try leaky_relu/elu"
                )
                found.append((kind, f"{value:.0%} of {layer}'s {what}; {fix}."))
        return found

    # ------------------------------------------------------------------ internals
    def _activation_hook(self, name: str) -> Any:
        def hook(layer: nn.Module, inputs: Any, output: Any) -> None:
            if name not in self._acts and isinstance(output, torch.Tensor):
                self._acts[name] = activation_stats(layer, output, margin=self.saturation_margin)

        return hook

    def _gradient_hook(self, name: str) -> Any:
        def hook(grad: torch.Tensor) -> None:
            if name not in self._grad_sq:  # first backward only (gradient accumulation)
                self._grad_sq[name] = grad.detach().float().pow(2).sum()

        return hook

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _collect(self, model: nn.Module) -> dict[str, float]:
        """Turn the sampled tensors into floats, one device sync for the lot."""
        sample: dict[str, float] = {}
        for layer_name, layer in model.named_modules():
            own = [(n, p) for n, p in layer.named_parameters(recurse=False)]
            if not own:
                continue
            label = layer_name or "model"
            found = (self._grad_sq.get(f"{layer_name}.{n}" if layer_name else n) for n, _ in own)
            grads = [g for g in found if g is not None]  # a parameter the batch did not use has none
            if grads and any(p.dim() > 1 for _, p in own):  # weighted layers, in definition order
                sample[f"grad_norm/{label}"] = float(torch.stack(grads).sum().sqrt()) * self._grad_scale
            weights = [p for _, p in own if p.dim() > 1]
            if weights:
                sample[f"weight_norm/{label}"] = float(
                    torch.stack([w.detach().float().pow(2).sum() for w in weights]).sum().sqrt()
                )
        for name, stats in self._acts.items():
            for stat, value in stats.items():
                sample[f"{stat}/{name}"] = float(value)
        return sample


def draw_health(history: list[dict[str, float]], path: Path) -> Path:
    """Gradient norm, weight norm and saturated/dead fraction by layer, one line per epoch shown.

    Args:
        history: the callback's sampled epochs.
        path: where the PNG goes.
    """
    from trainer.plots import plt  # matplotlib (file backend) loads only when a figure is drawn

    shown = _epochs_to_show(len(history))
    panels = [
        ("grad_norm", "gradient norm", "log"),
        ("weight_norm", "weight norm", "linear"),
        ("saturated", "saturated (sigmoid/tanh) or dead (ReLU) fraction", "linear"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (prefix, label, scale) in zip(axes, panels, strict=True):
        for index in shown:
            row = history[index]
            keys = [k for k in row if k.startswith(f"{prefix}/")]
            if prefix == "saturated":
                keys += [k for k in row if k.startswith("dead/")]
            if not keys:
                continue
            layers = [k.split("/", 1)[1] for k in keys]
            ax.plot(range(len(keys)), [row[k] for k in keys], marker="o", label=f"epoch {int(row['epoch'])}")
            ax.set_xticks(range(len(keys)), layers, rotation=60, fontsize=7)
        ax.set(title=label, xlabel="layer (input -> output)", yscale=scale)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _epochs_to_show(count: int, most: int = 4) -> list[int]:
    """Indices of up to ``most`` sampled epochs, evenly spread, always the first and the last."""
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})
