"""Evaluation tasks, one file per family; ``TASKS`` maps a task name to its class."""

from __future__ import annotations

from tutor.evaluation.tasks.answers import ANSWER_TASKS
from tutor.evaluation.tasks.base import EvalContext, Task
from tutor.evaluation.tasks.coverage import COVERAGE_TASKS
from tutor.evaluation.tasks.homework import HOMEWORK_TASKS
from tutor.evaluation.tasks.pedagogy import PEDAGOGY_TASKS
from tutor.evaluation.tasks.retrieval import RETRIEVAL_TASKS
from tutor.evaluation.tasks.retrieval_ocr import OCR_TASKS
from tutor.evaluation.tasks.safety import SAFETY_TASKS

TASKS: dict[str, type[Task]] = {**RETRIEVAL_TASKS, **ANSWER_TASKS, **COVERAGE_TASKS, **PEDAGOGY_TASKS,
                                 **HOMEWORK_TASKS, **SAFETY_TASKS, **OCR_TASKS}
SUITES: dict[str, list[str]] = {
    "retrieval": list(RETRIEVAL_TASKS),
    "answers": list(ANSWER_TASKS) + list(COVERAGE_TASKS),
    "pedagogy": list(PEDAGOGY_TASKS) + list(HOMEWORK_TASKS),
    "safety": list(SAFETY_TASKS),
    # prints and OCRs every lesson the questions point to (Chromium, tesseract): its own suite
    "ocr": list(OCR_TASKS),
    "quick": ["retrieval_bundled", "answers_bundled", "coverage", "pedagogy", "homework", "safety"],
}

__all__ = ["EvalContext", "SUITES", "TASKS", "Task"]
