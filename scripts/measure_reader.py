"""The evidence reader's weight and passage count, chosen on the bundled QA set.

For each answerable question: the hybrid's top passages, the reader's query likelihood of
each (read once, cached in --cache), then for every weight the passages re-ranked as
``tutor.retrieval.reading`` does, scored by passage-level MRR@10 (the chunks that hold the
answer), the extractive answer's contains-answer and answer-first, and the reader's seconds
per question. Prints one row per (passages, weight).

usage: python scripts/measure_reader.py [--limit N] [--passages 3,5,8] [--weights 0,0.05,0.1]
       [--data ../shared/evaldata --set kazqad|xquad]   (report only: never tune on them)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

from tutor.answer.extractive import ExtractiveComposer
from tutor.config import Settings
from tutor.evaluation import datasets
from tutor.evaluation.metrics import retrieval_metrics
from tutor.evaluation.pools import external_docs
from tutor.evaluation.tasks.answers import answer_first
from tutor.evaluation.tasks.base import EvalContext
from tutor.generation.reader import make_reader
from tutor.models import apply_offline, resolve_generator
from tutor.runtime import load_embedder
from tutor.text.answers import contains_answer


def items_of(args, ctx):
    if not args.set:
        items = [i for i in datasets.bundled_items("answerable")]
        return items, ctx.pool([])
    data = (datasets.load_kazqad if args.set == "kazqad" else datasets.load_xquad)(Path(args.data))
    lang = "kk" if args.set == "kazqad" else "ru"
    items = [{"id": str(i), "lang": lang, "question": q["question"], "answer": None,
              "answers": q.get("answers") or [], "gold": (
                  {f"{args.set}/{p}" for p in q["qrels_positive_ids"]} if args.set == "kazqad"
                  else {f"{args.set}/{q['passage_id']}"})} for i, q in enumerate(data.queries)]
    return items, ctx.pool(external_docs(data.corpus, args.set + "/", lang))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--passages", default="3,5,8")
    parser.add_argument("--weights", default="0,0.02,0.05,0.1,0.2,0.3,0.5,1")
    parser.add_argument("--cache", default="/tmp/ustaz-reader-scores.json")
    parser.add_argument("--data", default="")
    parser.add_argument("--set", default="", choices=("", "kazqad", "xquad"))
    args = parser.parse_args()
    settings = Settings.load()
    apply_offline(settings)
    embedder = load_embedder(settings)
    reader = make_reader(resolve_generator(settings), settings)
    ctx = EvalContext(embedder, Path(settings.corpus_dir), progress=False, settings=settings)
    items, pool = items_of(args, ctx)
    items = ctx.cap(items) if not args.limit else items[:: max(1, len(items) // args.limit)][: args.limit]
    cache_path = Path(args.cache)
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    extractive = ExtractiveComposer(embedder)
    depth = max(int(n) for n in args.passages.split(","))
    rows, seconds = [], []
    for item in items:
        result = pool.retriever.search(item["question"], k=40)
        hits = result.hits
        key = f"{args.set}|{item['question']}|{depth}"
        if key not in cache:
            t0 = time.perf_counter()
            cache[key] = reader.likelihoods(item["question"], [h.chunk.text for h in hits[:depth]])
            seconds.append(time.perf_counter() - t0)
        golds = item["answers"] if args.set else [item["answer"]]
        tolerant = item["lang"] == "kk"
        gold_chunks = {h.chunk.id for h in hits if golds and contains_answer(h.chunk.text, golds, tolerant)}
        gold_docs = item.get("gold") or {item["doc"]}
        rows.append((item, hits, cache[key], gold_chunks, gold_docs, golds, tolerant))
    cache_path.write_text(json.dumps(cache))
    if seconds:
        print(f"reader: {len(seconds)} questions read, p50 {statistics.median(seconds):.2f} s, "
              f"p95 {sorted(seconds)[int(0.95 * (len(seconds) - 1))]:.2f} s")
    print(f"{'passages':>8} {'weight':>6} {'passage MRR@10':>15} {'doc MRR@10':>10} "
          f"{'contains':>8} {'first':>6}  (n={len(rows)})")
    for n in (int(x) for x in args.passages.split(",")):
        for w in (float(x) for x in args.weights.split(",")):
            passage_rank, doc_rank, passage_rel, doc_rel, contains, first = [], [], [], [], [], []
            for item, hits, scores, gold_chunks, gold_docs, golds, tolerant in rows:
                top, s = hits[:n], scores[:n]
                best = max(s) if s else 0.0
                mixed = sorted((replace(h, score=h.score + w * (x - best)) for h, x in zip(top, s)),
                               key=lambda h: h.score, reverse=True) + hits[n:]
                if gold_chunks:
                    passage_rank.append([str(h.chunk.id) for h in mixed[:10]])
                    passage_rel.append({str(c) for c in gold_chunks})
                docs = list(dict.fromkeys(h.chunk.doc.doc_key for h in mixed))[:10]
                doc_rank.append(docs)
                doc_rel.append(gold_docs)
                if not golds:  # KazQAD's retrieval set has no answer spans
                    continue
                answer = extractive.compose(item["question"], item["lang"], mixed[:5])
                text = answer.text + "\n" + "\n".join(c.quote for c in answer.citations)
                contains.append(contains_answer(text, golds, tolerant))
                af = answer_first(answer, golds, tolerant)
                first.append(0.0 if af is None else float(af))
            pm = retrieval_metrics(passage_rank, passage_rel)["mrr@10"] if passage_rank else 0.0
            dm = retrieval_metrics(doc_rank, doc_rel)["mrr@10"]
            print(f"{n:>8} {w:>6} {pm:>15.3f} {dm:>10.3f} {statistics.mean(contains or [0]):>8.3f} "
                  f"{statistics.mean(first or [0]):>6.3f}")
    pool.close()


if __name__ == "__main__":
    main()
