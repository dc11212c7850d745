"""Abbreviations and the words they stand for, met in retrieval: a question that says
"жасанды интеллект" is also searched with "ЖИ", the form a lesson may use, and the other
way round. The groups live in data (``synonyms.toml``), one table per question language.

Forms are matched on stems, as whole words in a row: the question's stems, taken as the
stem BM25 view takes them, against each form's. So inflected forms match ("ЖИ-мен",
"интеллектке"), and a word that merely holds an abbreviation's letters does not ("жиі"
is its own stem, not "жи"). The index is untouched: both lexical views score the words
of a named form by whichever of its group's forms a passage holds best
(``LexicalIndex.search``)."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from tutor.text.langdetect import detect_language
from tutor.text.textnorm import stem, stemmed_words, tokenize

BUNDLED = Path(__file__).with_name("synonyms.toml")


class SynonymTable:
    """Groups of equivalent forms per language, compiled once: for each language, the
    stem sequences of every form keyed by their first stem."""

    def __init__(self, groups: dict[str, list[list[str]]]):
        self.groups = {lang: [list(g) for g in gs] for lang, gs in groups.items()}
        # lang -> first stem -> [(stems of a form, group number)], longest form first
        self._starts: dict[str, dict[str, list[tuple[tuple[str, ...], int]]]] = {}
        for lang, gs in self.groups.items():
            starts: dict[str, list[tuple[tuple[str, ...], int]]] = {}
            for i, forms in enumerate(gs):
                for form in forms:
                    stems = tuple(tokenize(form, lang=lang))
                    if stems:
                        starts.setdefault(stems[0], []).append((stems, i))
            for entries in starts.values():
                entries.sort(key=lambda e: -len(e[0]))
            self._starts[lang] = starts

    @classmethod
    def load(cls, path: Path | str) -> SynonymTable:
        return cls(tomllib.loads(Path(path).read_text(encoding="utf-8")))

    def named(self, query: str) -> list[tuple[str, list[str]]]:
        """Each group of the question's language that the question names, in the order
        it names them: the question's words that name it and all the group's forms (what
        ``LexicalIndex.search`` takes as ``synonyms``)."""
        lang = detect_language(query)
        starts = self._starts.get(lang)
        if not starts:
            return []
        words = stemmed_words(query)
        stems = [stem(w, lang) for w in words]  # tokenize(query), next to the words stemmed
        found: dict[int, str] = {}
        at = 0
        while at < len(stems):
            for form, group in starts.get(stems[at], ()):
                if tuple(stems[at:at + len(form)]) == form:
                    # the question's own words, as typed: the character view reads their n-grams
                    found.setdefault(group, " ".join(words[at:at + len(form)]))
                    at += len(form) - 1
                    break
            at += 1
        return [(own, self.groups[lang][group]) for group, own in found.items()]


@functools.cache
def bundled_table() -> SynonymTable:
    """The table shipped with the package, read and compiled once per process."""
    return SynonymTable.load(BUNDLED)
