"""Evaluation tasks, one file per family; ``TASKS`` maps a task name to its factory."""

from __future__ import annotations

from tutor.evaluation.tasks.base import EvalContext, Task
from tutor.evaluation.tasks.retrieval import RETRIEVAL_TASKS

TASKS: dict[str, type[Task]] = {**RETRIEVAL_TASKS}
SUITES: dict[str, list[str]] = {
    "retrieval": list(RETRIEVAL_TASKS),
}

__all__ = ["EvalContext", "SUITES", "TASKS", "Task"]
