"""Composing the run's config with Hydra and checking it before anything runs."""

from trainer.config.compose import ComposedConfig, compose_config, conf_dir, group_options
from trainer.config.validate import validate_config

__all__ = ["ComposedConfig", "compose_config", "conf_dir", "group_options", "validate_config"]
