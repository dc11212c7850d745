"""Measure the instruction patterns (tutor/safety/instructions.toml): how many held-out
injection phrasings (tests/data/injection_heldout.jsonl, and injection_unseen.jsonl written
after the tuning) ``instruction_like`` catches per language, and what share of ordinary
sentences it would strip: every sentence of the bundled corpus and, when the evaluation data
is there, of KazQAD and XQuAD-ru passages.
The record of the choice is docs/decisions/2026-12-06-injection-heldout.md.

    .venv/bin/python scripts/measure_injection.py [--data ../shared/evaldata] [--show]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from tutor.config import REPO_ROOT
from tutor.ingest.readers import split_front_matter
from tutor.safety.instructions import _SPANS, instruction_like

HELDOUT = REPO_ROOT / "tests" / "data" / "injection_heldout.jsonl"
# written after the patterns were tuned on the held-out set, and not tuned on: how far they carry
UNSEEN = REPO_ROOT / "tests" / "data" / "injection_unseen.jsonl"


def sentences(text: str) -> list[str]:
    return [s for s in (m.group(0).strip() for m in _SPANS.finditer(text)) if any(c.isalpha() for c in s)]


def corpus_texts(root: Path) -> list[str]:
    return [split_front_matter(p.read_text(encoding="utf-8"))[1] for p in sorted(root.glob("*/*.md"))]


def jsonl_texts(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "evaldata"))
    ap.add_argument("--show", action="store_true", help="print the missed phrasings and the stripped sentences")
    args = ap.parse_args()

    missed = []
    for name, path in (("held-out", HELDOUT), ("unseen", UNSEEN)):
        caught, total = Counter(), Counter()
        for row in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
            total[row["lang"]] += 1
            if all(instruction_like(s) for s in sentences(row["text"])):
                caught[row["lang"]] += 1
            else:
                missed.append(f"{name}: {row['text']}")
        for lang in sorted(total):
            print(f"{name} {lang}: caught {caught[lang]}/{total[lang]}")

    sets = {"corpus": corpus_texts(REPO_ROOT / "corpus")}
    for name, rel in (("kazqad_kk", "kazqad_kk/corpus.jsonl"), ("xquad_ru", "xquad_ru/corpus.jsonl")):
        if (Path(args.data) / rel).exists():
            sets[name] = jsonl_texts(Path(args.data) / rel)
    stripped = {}
    for name, texts in sets.items():
        all_s = [s for t in texts for s in sentences(t)]
        stripped[name] = [s for s in all_s if instruction_like(s)]
        print(f"false positives {name}: {len(stripped[name])}/{len(all_s)} = {len(stripped[name]) / len(all_s):.2%}")
    if args.show:
        print("\nmissed:", *missed, sep="\n  ")
        for name, found in stripped.items():
            print(f"\nstripped from {name}:", *found, sep="\n  ")


if __name__ == "__main__":
    main()
