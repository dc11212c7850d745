"""Personal data in what students type: IINs, card numbers, phone numbers and e-mail addresses
are replaced by a placeholder before anything is stored. (The IIN check digit is written here:
no maintained library carries it; Luhn is eight lines, not worth a dependency.)"""

from __future__ import annotations

import re

# A child who writes "my IIN is ..." has shared it even with a typo in the check digit,
# so a labelled 12-digit number is redacted whatever its checksum; an unlabelled one only
# when the check digit is right (a year range or a count must stay readable).
_IIN_LABELLED = re.compile(r"(?i)(?<!\w)(иин|жсн|iin|инн)(?!\w)(\D{0,20}?)(\d(?:[ -]?\d){11})(?![\d-])")
_IIN = re.compile(r"(?<!\d)(\d{12})(?!\d)")
# Card numbers as printed: 13-19 digits together, or in fours (Visa, Mastercard), or
# 4-6-5 (Amex); a row of small numbers in a maths task is not one.
_CARD = re.compile(r"(?<![\d-])(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5})(?![\d-])")
# +7 / 8, then a 3-, 4- or 5-digit code (mobile, city, district) and the number, with
# spaces, dashes or brackets; or a bare mobile number (70x/77x ...), which children often
# give without the prefix. A row of numbers in a maths task has no such grouping.
_PHONE = re.compile(r"(?<![\w+])(?:\+\s?7|8)[\s-]?(?:\(?\d{3}\)?[\s-]?\d{3}|\(?\d{4}\)?[\s-]?\d{2}|"
                    r"\(?\d{5}\)?[\s-]?\d)[\s-]?\d{2}[\s-]?\d{2}(?!\d)"
                    r"|(?<![\w+])\(?7[0-7]\d\)?[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def iin_valid(digits: str) -> bool:
    """Kazakh IIN check digit: weights 1..11, then 3..11,1,2 when the first sum gives 10."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    d = [int(c) for c in digits]
    check = sum(d[i] * (i + 1) for i in range(11)) % 11
    if check == 10:
        weights = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
        check = sum(d[i] * weights[i] for i in range(11)) % 11
        if check == 10:
            return False
    return check == d[11]


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n * 2 > 9 else n * 2
        total += n
    return total % 10 == 0


def redact_pii(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    text = _IIN_LABELLED.sub(lambda m: f"{m.group(1)}{m.group(2)}[IIN]", text)
    text = _IIN.sub(lambda m: "[IIN]" if iin_valid(m.group(1)) else m.group(0), text)

    def card(m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "[card]" if _luhn(digits) else m.group(0)

    text = _CARD.sub(card, text)
    return _PHONE.sub("[phone]", text)
