"""Choose the composer from settings: extractive, generative, or auto (generative only
for a generator that passed its admission check)."""

from __future__ import annotations

from dataclasses import dataclass

from tutor.answer.admission import admission_key, read_record
from tutor.answer.extractive import ExtractiveComposer
from tutor.answer.generative import GenerativeComposer
from tutor.generation.generators import make_generator
from tutor.models import ModelError, resolve_generator


@dataclass
class ComposerChoice:
    composer: object
    name: str
    reason: str
    generator: str
    admission: dict | None


def choose_composer(settings, embedder, load_generator=None) -> ComposerChoice:
    extractive = ExtractiveComposer(embedder)
    resolved = resolve_generator(settings, provision=False)
    record = read_record(settings.data_path, admission_key(resolved, settings)) if resolved.kind != "none" else None
    if settings.composer == "extractive":
        return ComposerChoice(extractive, "extractive", "set by the composer setting",
                              resolved.spec, record)
    if resolved.kind == "none":
        if settings.composer == "generative":
            raise ModelError("generator", "the generative composer needs a generator, but it is 'none'")
        return ComposerChoice(extractive, "extractive", "no generator configured", "none", None)
    if settings.composer == "auto" and not (record and record.get("passed")):
        why = ("the generator has not taken the admission check (run 'tutor models --admit')"
               if record is None else "the generator did not pass the admission check")
        return ComposerChoice(extractive, "extractive", why, resolved.spec, record)
    if not resolved.provisioned:  # converted only now that it will write answers
        resolved = resolve_generator(settings)
    generator = (load_generator or make_generator)(resolved, settings)
    return ComposerChoice(GenerativeComposer(generator, extractive), "generative",
                          "admitted" if record and record.get("passed") else "set by the composer setting",
                          resolved.spec, record)
