"""Answer tasks: does the shown answer contain the gold answer, are its citations valid,
is it in the student's language? On the bundled QA set and on KazQAD / XQuAD-ru, with
retrieval and with the gold passage."""

from __future__ import annotations

import re
import time
from collections import defaultdict

from tqdm import tqdm

from tutor.answer.extractive import ExtractiveComposer
from tutor.answer.generative import GenerativeComposer
from tutor.evaluation import datasets
from tutor.evaluation.pools import PoolDoc, external_docs
from tutor.evaluation.tasks.base import EvalContext, Task, mean, require_data
from tutor.retrieval.hybrid import Hit
from tutor.store import Chunk, Document
from tutor.text.answers import contains_answer, exact_match, suffix_tolerant_match, token_f1
from tutor.text.langdetect import detect_language
from tutor.text.letters import russian_keyboard
from tutor.tutor import Tutor


def _quoted(answer) -> list[str]:
    return [p[2:] for p in answer.text.split("\n\n") if p.startswith("> ")]


def shown_text(answer) -> str:
    """What the student reads as the answer: the quoted or generated body."""
    quoted = _quoted(answer)
    return "\n".join(quoted) if quoted else answer.text


def citation_valid(answer, retrieved_keys: set[int] | None = None) -> bool:
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    known = {c.n for c in answer.citations}
    return numbers <= known and (not answer.citations or bool(numbers))


def answer_first(answer, golds: list[str], tolerant: bool) -> float | None:
    """Whether the first quoted sentence holds the answer (None for an abstention): the
    student reads the answer before anything else."""
    quoted = _quoted(answer)
    return contains_answer(quoted[0], golds, tolerant) if quoted else None


def quoted_words(answer) -> float | None:
    """Words of the quoted body (None for an answer that quotes nothing, an abstention):
    how much the student reads, beside how often it holds the answer."""
    quoted = _quoted(answer)
    return float(sum(len(re.sub(r" \[\d+\]$", "", q).split()) for q in quoted)) if quoted else None



class BundledAnswers(Task):
    name = "answers_bundled"
    suite = "answers"
    primary = "contains_answer"

    def run(self, ctx: EvalContext) -> dict:
        items = ctx.cap(datasets.bundled_items("answerable"))
        pool = ctx.pool([])
        tutor = Tutor(pool.retriever, pool.store, extractive=ExtractiveComposer(ctx.embedder))
        rows, keyboard = defaultdict(list), []

        def row(item, question, session):
            answer = tutor.ask(question, session_id=session)
            text = shown_text(answer)
            tolerant = item["lang"] == "kk"
            return {
                "contains_answer": contains_answer(text, [item["answer"]], tolerant),
                "answer_first": answer_first(answer, [item["answer"]], tolerant),
                "quoted_words": quoted_words(answer),
                "citation_valid": float(citation_valid(answer)),
                "language_match": float(answer.lang == item["lang"]
                                        and detect_language(answer.text) == item["lang"]),
                "abstained": float(answer.abstained),
                "gold_doc_cited": float(any(c.doc_key == item["doc"] for c in answer.citations)),
            }

        try:
            for item in tqdm(items, desc="answers bundled", disable=not ctx.progress, leave=False):
                rows[item["lang"]].append(row(item, item["question"], item["id"]))
                if item["lang"] == "kk":  # again, typed on a Russian keyboard, in a session of its own
                    keyboard.append(row(item, russian_keyboard(item["question"]), item["id"] + "/keyboard"))
            ablation = reader_ablation(ctx, pool, tutor.extractive, [
                (i["id"], i["question"], i["lang"], [i["answer"]]) for i in items])
        finally:
            pool.close()
        result = aggregate_by_lang(rows)
        if ablation:
            result["reader"] = ablation
        if keyboard:
            result["extra"] = {"kk_russian_keyboard": {k: mean([r[k] for r in keyboard]) for k in keyboard[0]}}
        return result


def reader_ablation(ctx: EvalContext, pool, extractive: ExtractiveComposer,
                    items: list[tuple[str, str, str, list[str]]]) -> dict | None:
    """``tutor eval --ablate-reader N``: the first N items, given as (id, question, lang, golds),
    answered without and with the evidence reader, each with its first piece's latency and
    (with) the share the reader actually re-ranked rather than stepped aside."""
    if ctx.reading is None or not ctx.reader_limit:
        return None
    tutors = {"without": Tutor(pool.retriever, pool.store, extractive=extractive, keep_questions=False),
              "with": Tutor(pool.retriever, pool.store, extractive=extractive, keep_questions=False,
                            reading=ctx.reading)}
    rows: dict[str, list[dict]] = {"without": [], "with": []}
    for item_id, question, lang, golds in tqdm(items[: ctx.reader_limit], desc="reader ablation",
                                               disable=not ctx.progress, leave=False):
        for name, tutor in tutors.items():
            start, first, answer = time.perf_counter(), None, None
            for _, final in tutor.stream(question, f"{item_id}/{name}", lang=lang):
                first = first if first is not None else time.perf_counter() - start
                answer = final or answer
            tolerant = lang == "kk"
            rows[name].append({"contains_answer": contains_answer(shown_text(answer), golds, tolerant),
                               "answer_first": answer_first(answer, golds, tolerant),
                               "first_piece_s": first,
                               "reader_read": float("reader" in answer.notes)})
    out: dict = {"n": len(rows["with"])}
    for name, rs in rows.items():
        latency = sorted(r["first_piece_s"] for r in rs)
        out[name] = {"contains_answer": mean([r["contains_answer"] for r in rs]),
                     "answer_first": mean([r["answer_first"] for r in rs]),
                     "first_piece_p50_s": latency[len(latency) // 2] if latency else 0.0,
                     "first_piece_p95_s": latency[int(0.95 * (len(latency) - 1))] if latency else 0.0}
    out["with"]["reader_read"] = mean([r["reader_read"] for r in rows["with"]])
    return out


def aggregate_by_lang(rows: dict) -> dict:
    everything = [r for lang_rows in rows.values() for r in lang_rows]
    keys = everything[0].keys() if everything else []
    metrics = {k: mean([r[k] for r in everything]) for k in keys}
    by_lang = {lang: {k: mean([r[k] for r in lr]) for k in keys} for lang, lr in rows.items()}
    return {"metrics": metrics, "n": len(everything), "by_lang": by_lang}


def generative_tutor(ctx: EvalContext, pool, extractive: ExtractiveComposer) -> Tutor | None:
    """The same pipeline with the generative composer, when ``tutor eval --generative N``."""
    if ctx.generator is None or not ctx.generative_limit:
        return None

    return Tutor(pool.retriever, pool.store, composer=GenerativeComposer(ctx.generator, extractive),
                 extractive=extractive, keep_questions=False)


def generative_row(tutor: Tutor, item: dict, question_lang: str, golds: list[str],
                   tolerant: bool, extractive_contains: float) -> dict:
    """The generative column for one item, beside the extractive figure on the same item.
    A generated answer that fails its checks is replaced by the extractive one (counted
    in ``generative_fell_back``), as in the app."""
    answer = tutor.ask(item["question"], session_id=item["id"], lang=question_lang)
    return {
        "generative_contains_answer": contains_answer(shown_text(answer), golds, tolerant),
        "generative_written": float(answer.composer == "generative"),
        "generative_fell_back": float(answer.composer != "generative" and not answer.abstained),
        "generative_citation_valid": float(citation_valid(answer)),
        "extractive_contains_answer_same_items": extractive_contains,
    }


def _external_answers(ctx: EvalContext, name: str, lang: str, docs: list[PoolDoc],
                      items: list[dict], passage_key) -> dict:
    pool = ctx.pool(docs)
    extractive = ExtractiveComposer(ctx.embedder)
    tutor = Tutor(pool.retriever, pool.store, extractive=extractive)
    generative = generative_tutor(ctx, pool, extractive)
    rows, gen_rows = [], []
    tolerant = lang == "kk"
    try:
        for i, item in enumerate(tqdm(items, desc=f"answers {name}", disable=not ctx.progress, leave=False)):
            golds = item["answers"]
            answer = tutor.ask(item["question"], session_id=item["id"], lang=lang)
            text = shown_text(answer)
            if generative is not None and i < ctx.generative_limit:
                gen_rows.append(generative_row(generative, item, lang, golds, tolerant,
                                               contains_answer(text, golds, tolerant)))
            # with the gold passage: the extractive step alone, on the right passage
            gold_doc = Document(doc_key=passage_key(item), title=item.get("title", ""), lang=lang)
            gold_hit = Hit(Chunk(item["passage"], item["passage"], doc=gold_doc), 1.0)
            best = extractive.best_sentences(item["question"], [gold_hit])
            gold_text = "\n".join(s for _, s, _ in best)
            rows.append({
                "contains_answer": contains_answer(text, golds, tolerant),
                "answer_first": answer_first(answer, golds, tolerant),
                "quoted_words": quoted_words(answer),
                "gold_passage_contains": contains_answer(gold_text, golds, tolerant),
                "gold_passage_f1": max((token_f1(s, golds) for _, s, _ in best), default=0.0),
                "gold_passage_em": max((exact_match(s, golds) for _, s, _ in best), default=0.0),
                "suffix_tolerant_em": max((suffix_tolerant_match(s, golds) for _, s, _ in best),
                                          default=0.0),
                "citation_valid": float(citation_valid(answer)),
                "language_match": float(answer.lang == lang),
                "abstained": float(answer.abstained),
            })
        ablation = reader_ablation(ctx, pool, extractive,
                                   [(i["id"], i["question"], lang, i["answers"]) for i in items])
    finally:
        pool.close()
    metrics = {k: mean([r[k] for r in rows]) for k in rows[0]} if rows else {}
    if gen_rows:
        metrics.update({k: mean([r[k] for r in gen_rows]) for k in gen_rows[0]})
        metrics["generative_n"] = len(gen_rows)
    result = {"metrics": metrics, "n": len(rows), "by_lang": {lang: metrics}}
    return {**result, "reader": ablation} if ablation else result


class ExternalAnswers(Task):
    """Reading-comprehension items answered over their passage pool (bundled corpus mixed in)."""

    suite = "answers"
    primary = "contains_answer"
    needs_external = True
    folder = prefix = lang = label = ""

    def load(self, data_dir) -> tuple[list[dict], list[dict]]:
        """(passages, question items with passage_id, passage and answers)"""
        raise NotImplementedError

    def run(self, ctx: EvalContext) -> dict:
        require_data(ctx, self.folder)
        corpus, items = self.load(ctx.data_dir)
        docs = external_docs(corpus, self.prefix, self.lang)
        return _external_answers(ctx, self.label, self.lang, docs, ctx.cap(items),
                                 lambda i: self.prefix + i["passage_id"])


class KazQADAnswers(ExternalAnswers):
    name, folder, prefix, lang, label = "answers_kazqad", "kazqad_kk", "kazqad/", "kk", "KazQAD"

    def load(self, data_dir):
        return datasets.load_kazqad(data_dir).corpus, datasets.load_kazqad_rc(data_dir)


class XQuADAnswers(ExternalAnswers):
    name, folder, prefix, lang, label = "answers_xquad", "xquad_ru", "xquad/", "ru", "XQuAD-ru"

    def load(self, data_dir):
        data = datasets.load_xquad(data_dir)
        return data.corpus, data.queries


ANSWER_TASKS = {t.name: t for t in (BundledAnswers, KazQADAnswers, XQuADAnswers)}
