"""No code outside ``trainer/tasks`` compares a task name with a string literal.

A task name is one of ``OBJECTIVES``; what differs between tasks is asked of the objective
(``objective_class(name).predicts_classes``, ``.stratify``, ...), so adding a task stays one
file. The scan reads the source with ``ast``: ``task == "binary"``,
``task in ("binary", "multiclass")`` and the like fail, naming the file and the line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import trainer
from trainer.tasks import OBJECTIVES

SOURCE = Path(trainer.__file__).parent
TASK_NAMES = frozenset(OBJECTIVES)


def _literal_names(node: ast.expr) -> set[str]:
    """Task names written as string literals in ``node`` (a string, or a tuple/list/set of them)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & TASK_NAMES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return set().union(*(_literal_names(e) for e in node.elts)) if node.elts else set()
    return set()


def task_name_comparisons(path: Path, *, root: Path) -> list[str]:
    """``file:line: names`` (relative to ``root``) for each comparison with task-name literals."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            names = set().union(*(_literal_names(e) for e in [node.left, *node.comparators]))
        elif isinstance(node, ast.MatchValue):
            names = _literal_names(node.value)
        else:
            continue
        if names:
            where = path.relative_to(root)
            found.append(f"{where}:{node.lineno}: compares with {', '.join(sorted(names))}")
    return found


def test_no_task_name_is_compared_outside_tasks() -> None:
    files = [p for p in sorted(SOURCE.rglob("*.py")) if p.relative_to(SOURCE).parts[0] != "tasks"]
    assert len(files) > 50  # the scan found the package
    found = [line for path in files for line in task_name_comparisons(path, root=SOURCE.parent)]
    assert found == [], "ask the objective (trainer.tasks) instead:\n" + "\n".join(found)


def test_the_scan_catches_each_kind_of_comparison(tmp_path: Path) -> None:
    sample = tmp_path / "pkg" / "sample.py"
    sample.parent.mkdir()
    sample.write_text(
        'a = task == "binary"\n'
        'b = task in ("auto", "multiclass")\n'
        'c = "regression" != task\n'
        'd = task == "auto"\n'  # not a task name: the auto mode
        'match task:\n    case "reconstruction":\n        pass\n'
    )
    found = task_name_comparisons(sample, root=tmp_path)
    assert [line.split(":")[1] for line in found] == ["1", "2", "3", "6"], found
