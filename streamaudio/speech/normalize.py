"""Text normalisation for round-trip scoring: the TTS text and the ASR hypothesis
are brought to one spoken form, so only misheard words count as errors, not
"4" against "four" or "it's" against "it is"."""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

import jiwer
from num2words import num2words

# "'s" is only expanded after pronouns: elsewhere it is a possessive ("john's")
_IS_WORDS = (
    "it",
    "he",
    "she",
    "that",
    "what",
    "there",
    "here",
    "who",
    "where",
    "how",
    "when",
    "why",
)
_CONTRACTIONS = {f"{word}'s": f"{word} is" for word in _IS_WORDS} | {
    "won't": "will not",
    "can't": "can not",
    "cannot": "can not",
    "shan't": "shall not",
    "let's": "let us",
    "ain't": "is not",
    "y'all": "you all",
}
_SUFFIXES = (
    ("n't", " not"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'ll", " will"),
    ("'m", " am"),
    ("'d", " would"),
)
_ABBREVIATIONS = {  # a single dot is optional: "Mr." and British "Mr" alike
    "mr.": "mister",
    "mrs.": "missus",
    "ms.": "miss",
    "dr.": "doctor",
    "prof.": "professor",
    "vs.": "versus",
    "etc.": "et cetera",
    "e.g.": "for example",
    "i.e.": "that is",
    "a.m.": "am",
    "p.m.": "pm",
    "ok": "okay",
    "alright": "all right",
    "per cent": "percent",
}
# British spellings Whisper writes the American way; rules below cover -our,
# -ise, -yse, -tre, -elled
_SPELLINGS = {
    "tyre": "tire", "tyres": "tires", "grey": "gray", "programme": "program",
    "programmes": "programs", "cheque": "check", "cheques": "checks", "jewellery": "jewelry",
    "mould": "mold", "practise": "practice", "licence": "license", "defence": "defense",
    "offence": "offense", "aeroplane": "airplane", "aeroplanes": "airplanes",
    "catalogue": "catalog", "dialogue": "dialog", "pyjamas": "pajamas", "sceptical": "skeptical",
    "storey": "story", "storeys": "stories", "draught": "draft", "plough": "plow",
    "doughnut": "donut", "doughnuts": "donuts", "kerb": "curb", "mum": "mom", "mums": "moms",
    "aluminium": "aluminum", "moustache": "mustache", "enquiry": "inquiry", "enquire": "inquire",
}  # fmt: skip
_SPELLING_RULES = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\b(\w{2,})our(s|ed|ing|ite|ites|hood|hoods|ful|less|able|er|ers)?\b", r"\1or\2"),
        (r"\b(\w{2,})is(e|es|ed|ing|ation|ations|er|ers)\b", r"\1iz\2"),
        (r"\b(\w{2,})ys(e|es|ed|ing)\b", r"\1yz\2"),
        (r"\b(\w{2,})tre(s)?\b", r"\1ter\2"),
        (r"\b(\w{2,})ell(ed|ing|er|ers)\b", r"\1el\2"),
    )
)
_UNITS = {  # after a number: (one, many)
    "kg": ("kilogram", "kilograms"), "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
    "ml": ("milliliter", "milliliters"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"), "ft": ("foot", "feet"), "mph": ("mile per hour", "miles per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "°c": ("degree celsius", "degrees celsius"), "°f": ("degree fahrenheit", "degrees fahrenheit"),
    "°": ("degree", "degrees"),
}  # fmt: skip
_CURRENCY = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
}
_SCALES = r"(thousand|million|billion|trillion)"
_NUMBER_WORD = (
    r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety|hundred)"
)
_MONEY_WORDS = r"(dollars?|pounds?|euros?)"


def _cardinal(digits: str) -> str:
    return num2words(int(digits.replace(",", "")))


def _number(match: re.Match[str]) -> str:
    whole, fraction = match.group(1), match.group(2)
    if fraction is not None:
        return f"{_cardinal(whole)} point {' '.join(num2words(int(d)) for d in fraction)}"
    plain = whole.replace(",", "")
    # an unseparated four-digit number from 1100 to 2099 is read as a year
    # ("nineteen ninety-nine"): that is how both TTS voices say it and how Whisper
    # writes a spoken year; "1,999" stays a cardinal
    if "," not in whole and len(plain) == 4 and 1100 <= int(plain) <= 2099:
        return num2words(int(plain), to="year")
    return _cardinal(whole)


def _money(match: re.Match[str]) -> str:
    one, many, _cent, cents = _CURRENCY[match.group(1)]
    whole, fraction, scale = match.group(2), match.group(3), match.group(4)
    if scale:  # "$5 million" is said "five million dollars"
        amount = whole + (f".{fraction}" if fraction else "")
        return f" {_NUMBER.sub(_number, amount)} {scale} {many} "
    value = int(whole.replace(",", ""))
    small = int(fraction.ljust(2, "0")) if fraction else 0
    if value == 0 and small:
        return f" {num2words(small)} {cents} "
    words = f"{_cardinal(whole)} {one if value == 1 else many}"
    # "£9.50" is said "nine pounds fifty": the cents word is dropped on both sides
    return f" {words} {num2words(small)} " if small else f" {words} "


def _time(hour: int, minute: int) -> str:
    if minute == 0:
        return f"{num2words(hour)} o'clock"
    return f"{num2words(hour)} {'oh ' if minute < 10 else ''}{num2words(minute)}"


def _dotted_time(match: re.Match[str]) -> str:
    """Whisper writes "at seven thirty" as "at 7.30": a dotted time after a time
    word, or before am/pm, is a time, not a decimal."""
    before, after = match.group(1), match.group(4)
    hour, minute = int(match.group(2)), int(match.group(3))
    if not (before or after) or hour > 23 or minute > 59:
        return match.group(0)
    return f"{before or ''}{_time(hour, minute)} {(after or '').strip()} "


def _unit(match: re.Match[str]) -> str:
    one, many = _UNITS[match.group(2)]
    return f"{match.group(1)} {one if match.group(1) == '1' else many} "


_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
_MONEY = re.compile(r"([$€£])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:\s+" + _SCALES + r")?")
_PERCENT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s?%")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_DOTTED_TIME = re.compile(
    r"(\b(?:at|until|till|by|from|before|after|around|about|since|between) )?"
    r"\b(\d{1,2})\.(\d{2})(?!\d)"
    r"( ?(?:am|pm)\b)?"
)
_UNIT = re.compile(
    r"(\d[\d,]*(?:\.\d+)?)\s?("
    + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
    + r")(?![a-z])"
)
_DIGIT_LETTER = re.compile(r"(\d)([a-z])|([a-z])(\d)")
_NUMBER_AND = re.compile(r"\b(hundred|thousand|million|billion|trillion) and\b")
_MONEY_AND = re.compile(rf"\b{_MONEY_WORDS} and (?={_NUMBER_WORD})")
_CENTS = re.compile(rf"\b{_MONEY_WORDS}((?: {_NUMBER_WORD})+) (?:cents?|pence|penny)\b")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})


def _expand_contractions(text: str) -> str:
    def word(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in _CONTRACTIONS:
            return _CONTRACTIONS[token]
        for suffix, expansion in _SUFFIXES:
            if token.endswith(suffix) and len(token) > len(suffix):
                return token[: -len(suffix)] + expansion
        return token

    return re.sub(r"[a-z]+'[a-z]+|\bcannot\b", word, text)


def _drop_punctuation(text: str, keep: str = "") -> str:
    return "".join(
        " " if unicodedata.category(ch)[0] in "PS" and ch not in keep else ch for ch in text
    )


def _abbreviations(text: str) -> str:
    for short, full in _ABBREVIATIONS.items():
        pattern = re.escape(short)
        if short.count(".") == 1:
            pattern = pattern.replace(r"\.", r"\.?")
        text = re.sub(rf"(?<![\w.]){pattern}(?!\w)", f" {full} ", text)
    return text


def _spelling(text: str) -> str:
    text = " ".join(_SPELLINGS.get(word, word) for word in text.split())
    for pattern, replacement in _SPELLING_RULES:
        text = pattern.sub(replacement, text)
    return text


def normalize_en(text: str) -> str:
    """One spoken form: lower case, numbers, money, times and units as words,
    contractions expanded, American spelling, no punctuation."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = _abbreviations(text.replace("&", " and "))
    text = _expand_contractions(text)
    text = _MONEY.sub(_money, text)
    text = _PERCENT.sub(lambda m: f" {_NUMBER.sub(_number, m.group(1))} percent ", text)
    text = _ORDINAL.sub(lambda m: f" {num2words(int(m.group(1)), to='ordinal')} ", text)
    text = _TIME.sub(lambda m: _time(int(m.group(1)), int(m.group(2))), text)
    text = _DOTTED_TIME.sub(_dotted_time, text)
    text = _UNIT.sub(_unit, text)
    text = _DIGIT_LETTER.sub(lambda m: " ".join(g for g in m.groups() if g), text)  # "10am"
    text = _NUMBER.sub(lambda m: f" {_number(m)} ", text)
    text = _drop_punctuation(text.replace("'", ""))  # "john's" -> "johns" on both sides
    text = _NUMBER_AND.sub(r"\1", " ".join(text.split()))  # "one hundred and five"
    text = _CENTS.sub(r"\1\2", _MONEY_AND.sub(r"\1 ", text))  # "nine pounds and fifty pence"
    return _spelling(text)


def merge_compounds(words: list[str], other: set[str]) -> list[str]:
    """Join neighbours whose concatenation is a word of the other side
    ("tree house" / "treehouse", "wi fi" / "wifi"): spacing is not mishearing."""
    out: list[str] = []
    for word in words:
        if out and out[-1] + word in other and not (out[-1] in other and word in other):
            out[-1] += word
        else:
            out.append(word)
    return out


# --- Chinese ---------------------------------------------------------------------------

_ZH_DIGITS = "零一二三四五六七八九"
_ZH_UNITS = ("", "十", "百", "千")


@cache
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def _zh_below_10k(n: int) -> str:
    out, zero = "", False
    for power in (3, 2, 1, 0):
        digit = n // 10**power % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _ZH_DIGITS[digit] + _ZH_UNITS[power]
    return out


def zh_number(n: int) -> str:
    """Read an integer the way it is spoken: 1999 -> 一千九百九十九, 10 -> 十."""
    if n == 0:
        return "零"
    groups, out = [], ""
    while n:
        groups.append(n % 10_000)
        n //= 10_000
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        if out and group < 1000:
            out += "零"
        out += _zh_below_10k(group) + ("", "万", "亿", "万亿")[index]
    out = re.sub("零+", "零", out)
    return out[1:] if out.startswith("一十") else out


def _zh_digits(digits: str) -> str:
    return "".join(_ZH_DIGITS[int(d)] for d in digits)


def _zh_numeral(match: re.Match[str]) -> str:
    whole, fraction, year = match.group(1), match.group(2), match.group(3)
    if year or whole.startswith("0") or len(whole) >= 11:  # years, codes, phone numbers
        text = _zh_digits(whole)
    else:
        text = zh_number(int(whole))
    if fraction:
        text += "点" + _zh_digits(fraction)
    return text + (year or "")


def normalize_zh(text: str) -> str:
    text = _t2s().convert(unicodedata.normalize("NFKC", text)).lower()
    text = re.sub(r"(\d+(?:\.\d+)?)%", r"百分之\1", text.replace(",", ""))
    text = re.sub(r"(\d+)(?:\.(\d+))?(年)?", _zh_numeral, text)
    text = text.replace("〇", "零").replace("两", "二")  # 两个 / 2个 / 二个 score alike
    return "".join(_drop_punctuation(text).split())


@lru_cache(maxsize=8192)  # a pure function of its text: the round trip and the aligner
# ask again for the same sentences (3,000 calls in a warm demo build)
def normalize_text(text: str, language: str) -> str:
    if language.startswith("zh"):
        return normalize_zh(text)
    if language.startswith("en"):
        return normalize_en(text)
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_drop_punctuation(text).split())


def word_error_rate(reference: str, hypothesis: str, language: str) -> float:
    """WER for English (and other space-separated languages), CER for Chinese,
    on normalised text. An empty reference scores 0 against an empty hypothesis
    and 1 against anything else."""
    ref, hyp = normalize_text(reference, language), normalize_text(hypothesis, language)
    if not ref:
        return 0.0 if not hyp else 1.0
    if language.startswith("zh"):
        return float(jiwer.cer(ref, hyp or " "))
    ref_words, hyp_words = ref.split(), hyp.split()
    ref_words = merge_compounds(ref_words, set(hyp_words))
    hyp_words = merge_compounds(hyp_words, set(ref_words))
    return float(jiwer.wer(" ".join(ref_words), " ".join(hyp_words) or " "))
