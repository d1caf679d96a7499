"""``trainer eval ckpt_path=... [split=val] [overrides]``: print the metrics of a saved checkpoint."""

from __future__ import annotations

from trainer.commands.console import print_config as show_config
from trainer.commands.console import print_metrics
from trainer.errors import UserError


def eval_command(overrides: list[str], *, print_config: bool = False) -> int:
    """Compose ``conf/eval.yaml``, score the checkpoint it names, print the table.

    Args:
        overrides: ``ckpt_path=...``, ``split=test|val`` and overrides of the checkpoint's config.
        print_config: print the composed ``conf/eval.yaml`` and stop.

    Returns:
        0 once the metrics are printed.

    Raises:
        UserError: no ckpt_path, a split other than test or val, a key the checkpoint lacks.
    """
    from trainer.evaluate import compose_eval, evaluate_checkpoint

    composed = compose_eval(overrides)
    if print_config:
        show_config(composed.cfg)
        return 0
    if composed.cfg.ckpt_path is None:
        raise UserError("trainer eval needs ckpt_path=<path to a .ckpt file>.")
    path, split = str(composed.cfg.ckpt_path), str(composed.cfg.split)
    metrics = evaluate_checkpoint(path, composed, split=split)
    label = "Test" if split == "test" else "Validation"
    print_metrics(f"{label} metrics of {path}", metrics)
    return 0
