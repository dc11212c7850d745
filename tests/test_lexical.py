"""The BM25 index updated in place must score exactly as bm25s does on a fresh build over
the live passages, whatever sequence of uploads, deletes and compactions led there."""

from __future__ import annotations

import io
import random

import bm25s
import numpy as np
import pytest

from tutor.retrieval.lexical import LexicalIndex, corpus_digest, text_hashes
from tutor.text.textnorm import char_ngrams, tokenize

WORDS = ("фотосинтез жапырақ хлорофилл күн жарығы өсімдіктер энергия Абай Құнанбайұлы ақын "
         "жылы дүниеге келді кітап фотосинтезом листья растения свет энергии поэт родился "
         "году volcano magma chamber rock 1845 1904 и в на мен және the of").split()
QUERIES = ["фотосинтез жарығы", "Что такое фотосинтез растения?", "magma magma rock", "Абай қай жылы туды",
           "листья", "1845", "Юпитер", "?!"]


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return rng.choice(["", "и в на ?!"])  # no token at all: counts as the one token "∅"
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40)))


def assert_scores_as_fresh_bm25s(lex: LexicalIndex, live: dict[int, str], tokenizer) -> None:
    ids = sorted(live)
    assert sorted(lex.ids.tolist()) == ids and lex.size == len(ids)
    tokens = [tokenizer(live[i]) or ["∅"] for i in ids]
    fresh = LexicalIndex(ids, [live[i] for i in ids], tokenizer)
    for token in {t for doc in tokens for t in doc} | {"never-used"}:
        assert lex.doc_freq(token) == fresh.doc_freq(token) == sum(token in doc for doc in tokens)
        assert lex.idf(token) == fresh.idf(token)
    if not ids:
        assert all(not len(lex.search(q, 10)[1]) for q in QUERIES)
        return
    ref = bm25s.BM25(k1=1.2, b=0.75)
    ref.index(tokens, show_progress=False)
    row = {cid: r for r, cid in enumerate(ids)}
    for query in QUERIES:
        known = [t for t in tokenizer(query) if t in ref.vocab_dict]
        expected = ref.get_scores(known) if known else np.zeros(len(ids), np.float32)
        best = np.sort(expected[expected > 0])[::-1]
        for k in (5, len(ids)):
            scores, found = lex.search(query, k)
            assert scores.dtype == np.float32 and found.dtype == np.int64
            # the same scores best first; passages with equal scores may come in any order
            np.testing.assert_allclose(scores, best[:k], rtol=2e-6)
            np.testing.assert_allclose(expected[[row[c] for c in found.tolist()]], scores, rtol=2e-6)


def reloaded(lex: LexicalIndex, tokenizer) -> LexicalIndex:
    buf = io.BytesIO()
    np.savez(buf, **lex.state("p_"))
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as arrays:
        return LexicalIndex.from_state(arrays, "p_", tokenizer)


@pytest.mark.parametrize("tokenizer", [tokenize, char_ngrams], ids=["stems", "char_ngrams"])
def test_bm25_after_adds_removes_and_compactions_scores_as_a_fresh_bm25s_build(tokenizer, monkeypatch):
    rng = random.Random(5)
    first = {i: random_text(rng) for i in range(1, 41)}
    lex = LexicalIndex(list(first), list(first.values()), tokenizer)
    live = dict(first)
    assert_scores_as_fresh_bm25s(lex, live, tokenizer)
    next_id, seen = 100, {"segments": 1, "tombstones": 0, "delta merges": 0}
    # First nothing compacts by itself (small segments pile up and merge among themselves),
    # then an explicit compaction, then the default thresholds.
    monkeypatch.setattr(LexicalIndex, "compact_share", 100.0)
    monkeypatch.setattr(LexicalIndex, "max_segments", 3)
    for step in range(36):
        if step == 18:
            lex.compact()
            assert lex.segments == 1 and len(lex.state("")["ids"]) == lex.size
            monkeypatch.undo()
        before = lex.segments
        if step == 25:  # everything goes, then passages come back
            lex.remove(list(live))
            live.clear()
        elif rng.random() < 0.55 or len(live) < 4:
            added = {next_id + j: random_text(rng) for j in range(rng.randint(1, 12))}
            next_id += len(added) + rng.randint(0, 3)  # ids need not be contiguous
            lex.add(list(added), list(added.values()))
            live.update(added)
        else:
            gone = rng.sample(sorted(live), rng.randint(1, min(10, len(live) - 1)))
            lex.remove(np.asarray(gone + [10 ** 9]))  # an unknown id is ignored
            for cid in gone:
                del live[cid]
        seen["segments"] = max(seen["segments"], lex.segments)
        seen["tombstones"] = max(seen["tombstones"], len(lex.state("")["ids"]) - lex.size)
        seen["delta merges"] += lex.segments < before and step < 18
        assert_scores_as_fresh_bm25s(lex, live, tokenizer)
        if step in (10, 35):
            assert_scores_as_fresh_bm25s(reloaded(lex, tokenizer), live, tokenizer)
    assert seen["segments"] > 1 and seen["tombstones"] > 0 and seen["delta merges"] > 0, seen
    assert lex.digest() == corpus_digest(list(live), text_hashes(live.values()))


def test_an_id_already_indexed_is_refused():
    lex = LexicalIndex([1, 2], ["a b", "b c"], str.split)
    with pytest.raises(ValueError):
        lex.add([2], ["c d"])
    with pytest.raises(ValueError):
        lex.add([3, 3], ["c", "d"])
    assert lex.size == 2 and lex.doc_freq("c") == 1


def test_saved_arrays_that_do_not_fit_together_are_refused():
    lex = LexicalIndex([1, 2, 3], ["a b", "b c", "c"], str.split)
    state = lex.state("p_")
    state["p_s0_rows"] = state["p_s0_rows"] + 10  # rows past the passages
    with pytest.raises(ValueError):
        LexicalIndex.from_state(state, "p_", str.split)


def test_digest_follows_ids_and_texts_not_their_order():
    assert corpus_digest([1, 2], text_hashes(["a", "b"])) == corpus_digest([2, 1], text_hashes(["b", "a"]))
    assert corpus_digest([1, 2], text_hashes(["a", "b"])) != corpus_digest([1, 3], text_hashes(["a", "b"]))
    assert corpus_digest([1, 2], text_hashes(["a", "b"])) != corpus_digest([1, 2], text_hashes(["a", "c"]))
