"""Phrasebooks: every fixed phrase a student or teacher reads, in kk, ru and en."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LANGS = ("kk", "ru", "en")
_DIR = Path(__file__).parent


@cache
def phrasebook(lang: str) -> dict[str, str]:
    book = json.loads((_DIR / f"{lang if lang in LANGS else 'en'}.json").read_text(encoding="utf-8"))
    ui_path = _DIR / f"ui_{lang if lang in LANGS else 'en'}.json"
    if ui_path.exists():
        book.update(json.loads(ui_path.read_text(encoding="utf-8")))
    return book


def t(lang: str, key: str, **kwargs) -> str:
    text = phrasebook(lang).get(key) or phrasebook("en")[key]
    return text.format(**kwargs) if kwargs else text
