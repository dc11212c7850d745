"""The extractive composer: no language model. The answer is the evidence itself, the
sentences of the top passages that best match the question, quoted with numbered
citations and framed by short phrases in the student's language."""

from __future__ import annotations

import numpy as np

from tutor.answer.question_kind import CUE_KINDS, has_answer_type, question_type
from tutor.answer.types import Answer, Citation
from tutor.i18n import t
from tutor.ingest.chunking import split_sentences
from tutor.retrieval.hybrid import Hit
from tutor.text.textnorm import tokenize

# Sentence score = e5 cosine to the question + OVERLAP_WEIGHT x stem overlap + TYPE_BONUS
# for holding the kind of answer asked for (a year for "қашан", a number for "сколько", a
# name for "кім") that the question does not already contain; then NEIGHBOUR_WEIGHT of
# how much better its best neighbour in the same passage scores (the answer often sits in
# the sentence after the one that repeats the question's words), and PASSAGE_WEIGHT x its
# passage's fused retrieval score minus the top passage's. CUE_BONUS is the same for a
# sentence that says what a "how is it called" / "what is it made of" / "why" question asks
# ("деп аталады", "состоит из", "өйткені").
# Chosen on the bundled QA set: docs/decisions/2026-12-01-extractive-sentence-weights.md,
# docs/decisions/2026-12-07-answer-first.md
OVERLAP_WEIGHT = 0.25
TYPE_BONUS = 0.10
CUE_BONUS = 0.10
NEIGHBOUR_WEIGHT = 0.6
PASSAGE_WEIGHT = 0.3
# Sentences of each passage that are candidates (bounds the sentences embedded per
# question); enough to reach the end of lesson sections made of short sentences and list
# items: docs/decisions/2026-12-01-extractive-per-passage-limit.md
PER_PASSAGE = 20
# How much is quoted: at least SENTENCES sentences (when the passages hold them), then
# more, best first, while the whole quote stays within WORD_BUDGET words, up to
# MAX_SENTENCES (three sentences of a lesson's list say much less than three of an
# encyclopedia article); an answer is never longer than the longer of three sentences and
# WORD_BUDGET words. A sentence that tops up scores within TOP_UP_MARGIN of the best
# and is not a lead-in ending with a colon ("... былай жазуға болады:").
# Chosen on the bundled QA set: docs/decisions/2026-12-02-extractive-word-budget.md
SENTENCES = 3
WORD_BUDGET = 50
MAX_SENTENCES = 6
TOP_UP_MARGIN = 0.3


def sentence_candidates(hits: list[Hit], per_hit: int = PER_PASSAGE) -> list[tuple[int, str]]:
    out = []
    for i, hit in enumerate(hits):
        for sentence in split_sentences(hit.chunk.text)[:per_hit]:
            if len(sentence.split()) >= 3 and not sentence.startswith("```"):
                out.append((i, sentence))
    return out

def score_sentences(question: str, candidates: list[tuple[int, str]], hits: list[Hit],
                    embedder) -> np.ndarray:
    """The scores described at OVERLAP_WEIGHT, one per candidate (candidates come in
    passage order, as ``sentence_candidates`` gives them)."""
    if not candidates:
        return np.zeros(0)
    q_tokens = set(tokenize(question))
    overlap = np.array([
        len(q_tokens & set(tokenize(s))) / (len(q_tokens) or 1) for _, s in candidates])
    kind = question_type(question)
    typed = np.array([float(has_answer_type(kind, s, question)) for _, s in candidates])
    if embedder is not None:
        qv = embedder.encode_queries([question])[0]
        sv = embedder.encode_passages([s for _, s in candidates])
        cos = sv @ qv
    else:
        cos = np.zeros(len(candidates))
    bonus = CUE_BONUS if kind in CUE_KINDS else TYPE_BONUS
    base = cos + OVERLAP_WEIGHT * overlap + bonus * typed
    passage = np.array([i for i, _ in candidates])
    lift = np.zeros(len(candidates))
    for j in range(len(candidates)):
        for k in (j - 1, j + 1):
            if 0 <= k < len(candidates) and passage[k] == passage[j]:
                lift[j] = max(lift[j], base[k] - base[j])
    fused = np.array([hits[i].score for i in passage])  # hits come best first
    return base + NEIGHBOUR_WEIGHT * lift + PASSAGE_WEIGHT * (fused - hits[0].score)


class ExtractiveComposer:
    name = "extractive"

    def __init__(self, embedder=None, max_sentences: int = MAX_SENTENCES, max_sources: int = 3,
                 sentences: int = SENTENCES, word_budget: int = WORD_BUDGET):
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.max_sources = max_sources
        self.sentences = min(sentences, max_sentences)
        self.word_budget = word_budget

    def best_sentences(self, question: str, hits: list[Hit]) -> list[tuple[int, str, float]]:
        candidates = sentence_candidates(hits[: self.max_sources])
        scores = score_sentences(question, candidates, hits, self.embedder)
        order = np.argsort(-scores)
        picked: list[tuple[int, str, float]] = []
        words = 0
        for j in order:
            hit_i, sentence = candidates[j]
            if any(sentence == s for _, s, _ in picked):
                continue
            n = len(sentence.split())
            if len(picked) >= self.sentences and (
                    words + n > self.word_budget  # a shorter one further down may still fit
                    or scores[j] < scores[order[0]] - TOP_UP_MARGIN
                    or sentence.endswith(":")):  # a lead-in whose list is not quoted
                continue
            picked.append((hit_i, sentence, float(scores[j])))
            words += n
            if len(picked) == self.max_sentences:
                break
        return picked

    def compose(self, question: str, lang: str, hits: list[Hit], mode: str = "explain") -> Answer:
        picked = self.best_sentences(question, hits)
        # Citations are numbered in the order their passages are quoted.
        numbers: dict[int, int] = {}
        citations: list[Citation] = []
        lines = []
        for hit_i, sentence, _ in picked:
            if hit_i not in numbers:
                numbers[hit_i] = len(numbers) + 1
                citations.append(Citation.from_hit(numbers[hit_i], hits[hit_i]))
            lines.append((numbers[hit_i], sentence, hits[hit_i].chunk.doc.lang))
        body = [t(lang, "answer_intro")]
        other = {doc_lang for _, _, doc_lang in lines if doc_lang and doc_lang != lang}
        for doc_lang in sorted(other):
            body.append(t(lang, "answer_other_lang", lang_name=t(lang, f"lang_name_{doc_lang}")))
        for n, sentence, _ in lines:
            body.append(f"> {sentence} [{n}]")
        if citations:
            body.append(t(lang, "check_source", n=citations[0].n))
        return Answer("\n\n".join(body), lang, mode, self.name, citations)

    def stream(self, question: str, lang: str, hits: list[Hit], mode: str = "explain"):
        """Extractive answers are ready at once; paragraphs are yielded one by one so the
        interface shows the first words as early as a generated answer would."""
        answer = self.compose(question, lang, hits, mode)
        shown = []
        for paragraph in answer.text.split("\n\n"):
            shown.append(paragraph)
            yield "\n\n".join(shown), None
        yield answer.text, answer
