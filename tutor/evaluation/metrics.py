"""Retrieval metrics. (Answer matching is a text helper: ``tutor.text.answers``.)"""

from __future__ import annotations

import math


def rank_of_first(ranked: list[str], relevant: set[str]) -> int | None:
    for i, key in enumerate(ranked, start=1):
        if key in relevant:
            return i
    return None


def retrieval_metrics(rankings: list[list[str]], relevants: list[set[str]]) -> dict:
    """recall@k here is the share of queries with a relevant item in the top k
    (success@k), the convention of the KazQAD reference figures."""
    n = len(rankings)
    if n == 0:
        return {}
    out = {}
    ranks = [rank_of_first(r, rel) for r, rel in zip(rankings, relevants)]
    for k in (1, 5, 10):
        out[f"recall@{k}"] = sum(1 for r in ranks if r is not None and r <= k) / n
    out["mrr@10"] = sum(1 / r for r in ranks if r is not None and r <= 10) / n
    ndcg = 0.0
    for ranked, rel in zip(rankings, relevants):
        dcg = sum(1 / math.log2(i + 1) for i, key in enumerate(ranked[:10], start=1) if key in rel)
        ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(rel), 10) + 1))
        ndcg += dcg / ideal if ideal else 0.0
    out["ndcg@10"] = ndcg / n
    return out
