"""Where a document belongs and what a student sees: the region library (every class), a
school's materials (its classes) and a class's own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """A student's view: their class and its school. ``Scope()`` is the region library alone;
    ``None`` in place of a scope (tools, evaluation) means every document."""

    school_id: int | None = None
    class_id: int | None = None

    def sees(self, doc) -> bool:
        if doc.school_id is None:
            return True
        if doc.school_id != self.school_id:
            return False
        return doc.class_id is None or doc.class_id == self.class_id


@dataclass(frozen=True)
class Place:
    """Where a document is put: ``region``, ``school`` (school_id) or ``class`` (both ids)."""

    level: str = "school"
    school_id: int | None = None
    class_id: int | None = None

    # what an upload's document key starts with, so that two classes can each hold a
    # ``worksheet.pdf``; the default school keeps the plain ``upload/`` of a one-school install
    key_prefix: str = ""
