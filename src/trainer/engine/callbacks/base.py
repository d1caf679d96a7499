"""The fixed set of hooks. A callback implements any of them; the Trainer calls them in list order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainer.engine.module import TrainingModule
    from trainer.engine.trainer import Trainer

#: Every hook the Trainer calls, in the order a fit meets them. Hooks are looked up by name
#: (``getattr(callback, hook, None)``), so a callback needs no base class at all.
HOOKS = (
    "on_fit_start",  # (trainer, module) after a resume is restored, before the first epoch
    "on_train_epoch_start",  # (trainer, module)
    "on_train_batch_end",  # (trainer, module, loss) after each optimizer step; loss is a tensor
    "on_validation_end",  # (trainer, module, metrics) after each validation pass in fit
    "on_train_epoch_end",  # (trainer, module, metrics) with this epoch's train and val metrics
    "on_fit_end",  # (trainer, module) after the last epoch
    "on_exception",  # (trainer, module, exception) when fit stops on an error or Ctrl-C
    "on_test_end",  # (trainer, module, metrics) after ``Trainer.test``
)


class Callback:
    """Optional base class: every hook is a no-op, and state is empty.

    Callbacks with state (best score, patience counter, saved paths) return it from
    ``state_dict`` so that a resumed run continues exactly where it stopped: the Trainer saves
    and restores any callback that has both methods (``engine.callback_protocols.StatefulCallback``).
    """

    @property
    def state_key(self) -> str:
        """Key of this callback's state in a checkpoint."""
        return type(self).__name__

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None

    def on_fit_start(self, trainer: Trainer, module: TrainingModule) -> None: ...

    def on_train_epoch_start(self, trainer: Trainer, module: TrainingModule) -> None: ...

    def on_train_batch_end(self, trainer: Trainer, module: TrainingModule, loss: Any) -> None: ...

    def on_validation_end(
        self, trainer: Trainer, module: TrainingModule, metrics: dict[str, float]
    ) -> None: ...

    def on_train_epoch_end(
        self, trainer: Trainer, module: TrainingModule, metrics: dict[str, float]
    ) -> None: ...

    def on_fit_end(self, trainer: Trainer, module: TrainingModule) -> None: ...

    def on_exception(self, trainer: Trainer, module: TrainingModule, exception: BaseException) -> None: ...

    def on_test_end(self, trainer: Trainer, module: TrainingModule, metrics: dict[str, float]) -> None: ...
