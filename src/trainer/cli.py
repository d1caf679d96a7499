"""``trainer <command> [overrides]``: a table from command names to functions, and dispatch.

Every command composes its own primary config (``conf/<config_name>.yaml``) from Hydra overrides
through :func:`trainer.config.compose.compose_config`; the work happens in the function the
table names. Exit status: 0, the command's own, 2 for a user's mistake, 130/143 for Ctrl-C/SIGTERM,
141 when the reader of its output went away (``trainer --help | head -1``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from trainer import startup_gc

# Light imports only: a Ctrl-C is guarded once main() runs, and trainer.config loads torch.
from trainer.commands.command import Command
from trainer.commands.console import rank_zero, setup_console_logging
from trainer.commands.help import command_help, overview, usage
from trainer.errors import UserError
from trainer.interrupts import safe_interrupts

COMMANDS = (
    Command(
        name="train",
        config_name="train",
        summary="compose conf/train.yaml with the overrides, fit, test, record the run",
        function="trainer.commands.train:train_command",
        multirun="trainer.commands.train:multirun_command",
        notes=("(-m / --multirun with a=1,2 b=x,y: run that grid as one study)",),
    ),
    Command(
        name="sweep",
        config_name="sweep",
        summary="an Optuna study over conf/hparams_search/<name>.yaml: trainer sweep hparams_search=mlp",
        function="trainer.commands.sweep:sweep",
        section="sweep",
    ),
    Command(
        name="fraud",
        config_name="fraud",
        summary="compare imbalance approaches on one split: trainer fraud [data=fraud_oracle]",
        function="trainer.fraud.command:fraud_command",
        section="fraud",
        notes=("[fraud.approaches=[weighted,smote,autoencoder]]",),
    ),
    Command(
        name="gradcheck",
        config_name="gradcheck",
        summary="backprop vs central differences (float64) on the configured model; exit 1 on a bug",
        function="trainer.commands.diagnose:gradcheck_command",
        section="gradcheck",
        notes=("trainer gradcheck [overrides] [gradcheck.max_coords=50 gradcheck.batch_size=16]",),
    ),
    Command(
        name="lr-find",
        config_name="lr_find",
        summary="learning-rate range test; plot + MLflow; prints the optimizer.lr=... to use",
        function="trainer.commands.diagnose:lr_find_command",
        section="lr_find",
        notes=("trainer lr-find [overrides] [lr_find.min_lr=1e-7 lr_find.max_lr=10 lr_find.num_steps=200]",),
    ),
    Command(
        name="eval",
        config_name="eval",
        summary="test a saved checkpoint: trainer eval ckpt_path=runs/<run>/checkpoints/last.ckpt",
        function="trainer.commands.eval:eval_command",
        notes=("(split=val scores the validation split; data=csv data.source.path=... other data)",),
    ),
    Command(
        name="upload",
        config_name="upload",
        summary="send what MLflow missed from a run's journal (a server that was down, a killed run):",
        function="trainer.commands.upload:upload_command",
        notes=("trainer upload runs/<run> [logger.tracking_uri=...]  (or run_dir=runs/<run>)",),
    ),
)

BY_NAME = {command.name: command for command in COMMANDS}
HELP_FLAGS = ("-h", "--help")
USAGE = usage(COMMANDS)
#: The exit status when the reader of stdout went away (``trainer --help | head -1``): 128 + SIGPIPE,
#: what a shell reports for a program SIGPIPE ended, as 130/143 stand for SIGINT/SIGTERM.
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trainer`` console script.

    Without ``argv`` this is the program itself: it starts without automatic garbage collection
    until its run is open (``startup_gc``). Called with ``argv`` (from code, from a test), the
    caller's collector settings stay as they are.
    """
    if argv is None:
        startup_gc.pause()
    try:
        status = _dispatch(argv)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not as Python exits
        return status
    except BrokenPipeError:
        # The reader stopped reading (head, less quit early): nothing more is wanted, and no
        # traceback either. Python's own recipe: point stdout at devnull so that the flush at
        # exit does not raise again (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE


def _stdout_to_devnull() -> None:
    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def _dispatch(argv: Sequence[str] | None) -> int:
    """Parse ``argv``, run the command, and turn a user's mistake or a Ctrl-C into an exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in (*HELP_FLAGS, "help"):
        print(overview(COMMANDS))
        return 0
    name, rest = args[0], args[1:]
    command = BY_NAME.get(name)
    if command is None:
        return _refuse(f"unknown command {name!r}; choose one of {', '.join(BY_NAME)}")
    flags = {a for a in rest if a.startswith("-") and "=" not in a}
    unknown = sorted(flags - {"--cfg", *HELP_FLAGS})
    multirun = bool(unknown) and command.multirun is not None and _asks_multirun(unknown)
    if multirun:
        unknown = []
    if unknown:
        return _refuse(f"unknown option {unknown[0]}; overrides are key=value")
    overrides = [a for a in rest if a not in flags]
    setup_console_logging()
    try:
        with safe_interrupts():  # a Ctrl-C never cuts a database write short (interrupts.py)
            if flags & set(HELP_FLAGS):
                print(command_help(command))
                return 0
            return command.resolve(multirun=multirun)(overrides, print_config="--cfg" in flags)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # SIGTERM or a first Ctrl-C during a fit: a checkpoint was saved at a step boundary.
        checkpoint = getattr(exc, "checkpoint", None)
        advice = getattr(exc, "advice", None)  # a command that knows better how to go on (a sweep)
        if advice and rank_zero():
            print(advice, file=sys.stderr)
        elif checkpoint is not None and rank_zero():  # rank 0 says it for all processes of a DDP run
            print(f"{exc}\nResume: trainer train <same overrides> ckpt_path={checkpoint}", file=sys.stderr)
        elif rank_zero():
            print("Interrupted; the run folder keeps everything saved so far.", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))  # 128 + the signal: 143 for SIGTERM, 130 for Ctrl-C


def _asks_multirun(flags: list[str]) -> bool:
    """Whether every flag left is ``-m`` / ``--multirun`` (imported here: the sweep loads optuna)."""
    from trainer.sweep.multirun import MULTIRUN_FLAGS

    return set(flags) <= set(MULTIRUN_FLAGS)


def _refuse(message: str) -> int:
    print(f"error: {message}. See trainer --help.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
