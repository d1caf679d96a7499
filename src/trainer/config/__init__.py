"""Composing the run's config with Hydra and checking it before anything runs.

``compose`` is light (Hydra and OmegaConf); ``validate`` reads the signatures of the code the
config configures, so it imports torch. It loads only when asked for, so that ``trainer --help``,
``--cfg`` and a config mistake answer without paying for torch.
"""

from typing import TYPE_CHECKING, Any

from trainer.config.compose import ComposedConfig, compose_config, conf_dir, group_options

if TYPE_CHECKING:
    from trainer.config.validate import validate_config

__all__ = ["ComposedConfig", "compose_config", "conf_dir", "group_options", "validate_config"]


def __getattr__(name: str) -> Any:
    if name == "validate_config":
        from trainer.config.validate import validate_config

        return validate_config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
