"""Objectives: the loss, the prediction and the metrics of each kind of task.

``OBJECTIVES`` maps each task name to its objective class; a new task registers here and
nowhere else.
"""

from trainer.errors import ConfigError
from trainer.tasks.base import Objective
from trainer.tasks.binary import BinaryObjective
from trainer.tasks.inference import AUTO_TASK, infer_task
from trainer.tasks.multiclass import MulticlassObjective
from trainer.tasks.reconstruction import ReconstructionObjective
from trainer.tasks.regression import RegressionObjective

OBJECTIVES: dict[str, type[Objective]] = {
    cls.name: cls
    for cls in (BinaryObjective, MulticlassObjective, RegressionObjective, ReconstructionObjective)
}


def objective_class(name: str) -> type[Objective]:
    """The objective class of a task name.

    Raises:
        ConfigError: ``name`` is not a known task.
    """
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ConfigError(
            f"objective.name={name!r} is not known; choose auto or one of {', '.join(OBJECTIVES)}."
        ) from None


def classifier_tasks() -> list[str]:
    """Names of the tasks whose network predicts the target's classes (binary, multiclass...)."""
    return [name for name, objective in OBJECTIVES.items() if objective.predicts_classes]


__all__ = [
    "AUTO_TASK",
    "OBJECTIVES",
    "BinaryObjective",
    "MulticlassObjective",
    "Objective",
    "ReconstructionObjective",
    "RegressionObjective",
    "classifier_tasks",
    "infer_task",
    "objective_class",
]
