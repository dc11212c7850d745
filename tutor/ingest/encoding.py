"""Decode uploaded text files: UTF-8, UTF-16 and the legacy Cyrillic code pages
(Windows-1251, KOI8-R) still common in Kazakh schools."""

from __future__ import annotations

import codecs

_RU_FREQUENT = set("оеаинтсрвлкмдпуяыьгзбчй")


class NotText(ValueError):
    pass


def _cyrillic_score(text: str) -> float:
    """Share of letters that are frequent lowercase Cyrillic letters. Text decoded with
    the wrong single-byte code page is mostly capitals and rare letters."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(c in _RU_FREQUENT for c in letters) / len(letters)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name) or raise NotText for binary data."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    sample = data[:4096]
    if b"\x00" in sample:
        # UTF-16 without a byte-order mark: spaces, digits and Latin letters put their zero
        # byte always on the same side. Cyrillic puts 0x04 there instead, so in Russian or
        # Kazakh text zeros are fewer (spaces and punctuation, still >5% of characters): what
        # tells text from binary is that they are all on one side.
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        units = len(sample) // 2 or 1
        for enc, right, wrong in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
            if wrong or right < units * 0.05:
                continue
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            if _printable_share(text) > 0.95:
                return text, enc
        raise NotText("binary data, not text")
    try:
        text = data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        candidates = []
        for enc in ("cp1251", "koi8_r"):
            try:
                candidate = data.decode(enc)
            except UnicodeDecodeError:
                continue
            candidates.append((_cyrillic_score(candidate), enc, candidate))
        if not candidates:
            raise NotText("unknown text encoding") from None
        _, encoding, text = max(candidates)
    if _printable_share(text) < 0.9:
        raise NotText("binary data, not text")
    return text, encoding


def _printable_share(text: str) -> float:
    if not text:
        return 1.0
    sample = text[:20000]
    ok = sum(c.isprintable() or c in "\n\r\t" for c in sample)
    return ok / len(sample)
