"""``trainer fraud [overrides]``: compose ``conf/fraud.yaml``, run the study, say where it went."""

from __future__ import annotations

from trainer.errors import UserError


def fraud_command(args: list[str], *, print_config: bool = False) -> int:
    """Run the fraud study with Hydra overrides; ``--cfg`` prints the composed config instead.

    Args:
        args: the command line after ``trainer fraud``, e.g. ``["data=fraud_oracle",
            "fraud.approaches=[weighted,smote,autoencoder]"]``.
        print_config: print the composed config and stop (as ``--cfg`` among ``args`` does).

    Returns:
        The process exit status (0 on success).

    Raises:
        UserError: a bad override, config or data (the CLI prints the message alone).
    """
    from omegaconf import OmegaConf

    from trainer.config.compose import compose_config

    flags = [a for a in args if a.startswith("-")]
    unknown = [f for f in flags if f != "--cfg"]
    if unknown:
        raise UserError(f"trainer fraud does not know the option {unknown[0]}; overrides are key=value.")
    composed = compose_config([a for a in args if a not in flags], config_name="fraud")
    if print_config or "--cfg" in flags:
        print(OmegaConf.to_yaml(composed.cfg))
        return 0
    from trainer.fraud.study import run_study  # torch and friends load only once the config is good

    result = run_study(composed)
    print()
    folder, *location = result.where  # the run's address comes last, as every command ends
    print(
        folder, "  it holds comparison.csv, comparison.md, figures/ and explanations/.", *location, sep="\n"
    )
    return 0
