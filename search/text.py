"""Text → index terms, and user text → what must match, shared by the embedded engines.

Japanese has no spaces and many two-character words (椅子, 土砂, 砕石), so CJK runs are
indexed as overlapping character bigrams plus their last character; Latin words and
numbers as words, split where letters meet digits (RC40 = RC-40 = rc 40). Everything is
NFKC-normalised, case-folded and kana-folded first (analysis.py). Besides the text as
written, each run is indexed by its reading (いす finds 椅子) with the start of every word
in it, and by its dictionary forms where they differ (タンス → 箪笥)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .analysis import fold_kana, is_kana, nfkc, read
from .documents import MAX_QUERY_TERMS, MAX_TEXT_CHARS

MAX_TOKEN_CHARS = 64  # PostgreSQL refuses lexemes over 2 KB; nobody searches such words
MAX_OPTIONS = 12  # alternatives of one query word (as typed, readings, synonyms, typos)
LEXICON_WORD = re.compile(r"^[a-z]{4,24}$")  # Latin words the typo lexicon keeps


def normalise(text: str) -> str:
    """Width, case and kana folded: ＲＣ－４０ → rc-40, ｺﾝｸﾘｰﾄ → コンクリト, いす → イス."""
    return fold_kana(nfkc(text))


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana (incl. ー)
        or 0x31F0 <= code <= 0x31FF  # katakana phonetic extensions
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= code <= 0x3FFFF  # CJK extensions B and later
        or ch in "々〆〇ヶ"
    )


_CJK_CLASS = (
    "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff々〆〇ヶ"
)
# A CJK run, or a run of other alphanumerics ([^\W_] is exactly str.isalnum()).
_RUN = re.compile(f"([{_CJK_CLASS}]+)|([^\\W_{_CJK_CLASS}]+)")
_PARTS = re.compile(r"\d+|[^\W\d_]+")  # letters and digits apart: rc40 → rc, 40


def runs(text: str) -> list[tuple[bool, str]]:
    """Split text into (is_cjk, run) pieces; everything else separates."""
    return [(bool(cjk), cjk or word) for cjk, word in _RUN.findall(text)]


def _runs_by_character(text: str) -> list[tuple[bool, str]]:
    """The definition runs() implements with one regular expression (kept for tests)."""
    pieces: list[tuple[bool, str]] = []
    current: list[str] = []
    current_cjk = False
    for ch in text:
        cjk = _is_cjk(ch)
        if cjk or ch.isalnum():
            if current and cjk != current_cjk:
                pieces.append((current_cjk, "".join(current)))
                current = []
            current_cjk = cjk
            current.append(ch)
        elif current:
            pieces.append((current_cjk, "".join(current)))
            current = []
    if current:
        pieces.append((current_cjk, "".join(current)))
    return pieces


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _cjk_terms(run: str) -> list[str]:
    """Bigrams plus the last character: every character then starts some term, so a
    one-character query is a prefix query."""
    return [*_bigrams(run), run[-1]] if run else []


def parts(word: str) -> list[str]:
    return [part[:MAX_TOKEN_CHARS] for part in _PARTS.findall(word)]


def index_terms(text: str) -> list[str]:
    """Terms of the text as written, in text order (positions matter for phrases)."""
    terms: list[str] = []
    for cjk, run in runs(nfkc(text)):
        terms.extend(_cjk_terms(fold_kana(run)) if cjk else parts(run))
    return terms


@dataclass
class AnalysedText:
    """One field's terms for the index."""

    surface: list[str] = field(default_factory=list)  # as written, in order
    variants: list[str] = field(default_factory=list)  # dictionary forms that differ
    reading: list[str] = field(default_factory=list)  # readings, bigrams in order
    heads: list[str] = field(default_factory=list)  # first two reading characters of words
    reading_text: str = ""  # the words' readings, space-separated (the title's relevance test)
    variant_text: str = ""  # the dictionary forms that differ, run by run
    reading_runs: list[str] = field(default_factory=list)  # each run's reading, joined
    words: set[str] = field(default_factory=set)  # Latin words for the typo lexicon


def analyse(text: str) -> AnalysedText:
    out = AnalysedText()
    readings: list[str] = []
    variants: list[str] = []
    for cjk, run in runs(nfkc(text)):
        if not cjk:
            pieces = parts(run)
            out.surface.extend(pieces)
            out.words.update(p for p in pieces if LEXICON_WORD.match(p))
            continue
        folded = fold_kana(run)
        if not folded:
            continue
        out.surface.extend(_cjk_terms(folded))
        reading = read(run)
        if reading.text:
            out.reading.extend(_cjk_terms(reading.text))
            out.heads.extend(reading.text[s : s + 2] for s in reading.starts)
            out.reading_runs.append(reading.text)
            ends = (*reading.starts[1:], len(reading.text))
            readings.extend(reading.text[a:b] for a, b in zip(reading.starts, ends, strict=True))
        if reading.normalized:
            out.variants.extend(_cjk_terms(reading.normalized))
            variants.append(reading.normalized)
    out.reading_text = " ".join(readings)
    out.variant_text = " ".join(variants)
    return out


# --- queries -------------------------------------------------------------------------

TEXT, READING, HEAD = "text", "reading", "head"


@dataclass(frozen=True)
class Phrase:
    """Consecutive index terms in one field (text: title and body; reading: readings;
    head: the start of a word's reading), the last optionally as a prefix."""

    field: str
    terms: tuple[str, ...]
    prefix: bool = False
    like: str = ""  # LIKE pattern on the title's folded text or reading, for relevance
    word: str = ""  # LIKE pattern for the same as a whole word (readings), else = like


Option = tuple[Phrase, ...]  # every phrase must match


@dataclass(frozen=True)
class QueryTerm:
    """One AND-ed word of a query: any of its options matches. The first `typed`
    options are the word as typed; the rest are readings, dictionary forms, synonyms and
    typo corrections. `typo_word` is a Latin word the engine may correct."""

    options: tuple[Option, ...]
    typed: int = 1
    typo_word: str | None = None
    last: bool = field(default=False, compare=False)

    def with_options(self, extra: list[Option]) -> QueryTerm:
        options = tuple(dict.fromkeys((*self.options, *extra)))[:MAX_OPTIONS]
        return QueryTerm(options, self.typed, self.typo_word, self.last)


def text_phrase(terms: list[str], cjk: bool, prefix: bool = False) -> Phrase:
    joined = (terms[0] + "".join(t[-1] for t in terms[1:])) if cjk else "%".join(terms)
    return Phrase(TEXT, tuple(terms), prefix, f"%{joined}%", f"%{joined}%")


def _cjk_phrase(folded: str, prefix_single: bool = True) -> Phrase:
    if len(folded) == 1:
        return Phrase(TEXT, (folded,), prefix_single, f"%{folded}%", f"%{folded}%")
    return text_phrase(_bigrams(folded), cjk=True)


def reading_option(reading: str) -> Option:
    """A kana word: its reading somewhere, and some word's reading starting like it."""
    like, word = f"%{reading}%", f"% {reading} %"
    if len(reading) == 1:
        return (
            Phrase(READING, (reading,), True, like, word),
            Phrase(HEAD, (reading,), True),
        )
    return (
        Phrase(READING, tuple(_bigrams(reading)), False, like, word),
        Phrase(HEAD, (reading[:2],)),
    )


def phrases_of(text: str) -> Option:
    """Every run of a text (a synonym, say) as phrases that must all match."""
    out: list[Phrase] = []
    pieces = runs(nfkc(text))
    for cjk, run in pieces:
        if cjk:
            folded = fold_kana(run)
            if folded:
                out.append(_cjk_phrase(folded, prefix_single=False))
        elif terms := parts(run):
            out.append(text_phrase(terms, cjk=False))
    if len(out) > 1 and all(p.field == TEXT and "%" in p.like[1:-1] for p in out):
        # several Latin words ("crushed concrete"): one phrase
        words = [t for p in out for t in p.terms]
        return (text_phrase(words, cjk=False),)
    return tuple(out)


def _words(text: str) -> list[list[tuple[bool, str]]]:
    """The query's whitespace-separated words, each as its runs. A short letter word
    followed by a number ("RC 40") is one code, as RC-40 or RC40."""
    words = [runs(word) for word in nfkc(text[:MAX_TEXT_CHARS]).split()]
    words = [w for w in words if w]
    merged: list[list[tuple[bool, str]]] = []
    for word in words:
        if (
            merged
            and len(word) == 1
            and not word[0][0]
            and word[0][1].isdigit()
            and len(merged[-1]) == 1
            and not merged[-1][0][0]
            and merged[-1][0][1].isalpha()
            and len(merged[-1][0][1]) <= 3
        ):
            merged[-1] = merged[-1] + word
        else:
            merged.append(word)
    return merged


def _latin_term(latin: list[str], last: bool, synonyms) -> QueryTerm:
    terms = [p for run in latin for p in parts(run)]
    options: list[Option] = [(text_phrase(terms, cjk=False, prefix=last),)]
    typo = terms[0] if len(terms) == 1 and LEXICON_WORD.match(terms[0]) else None
    if synonyms is not None and len(terms) == 1:
        options += [phrases_of(alt) for alt in synonyms.expand(terms[0], kana=False)]
    return QueryTerm(tuple(options), 1, typo, last)


def _cjk_term(run: str, last: bool, synonyms) -> QueryTerm | None:
    folded = fold_kana(run)
    if not folded:
        return None
    kana = is_kana(run)
    if kana:
        # what the user typed in kana is the reading they mean (は, not ワ)
        options: list[Option] = [reading_option(folded)]
    else:
        options = [(_cjk_phrase(folded),)]
    typed = len(options)
    reading = read(run)
    if not kana and reading.text and any("\u3041" <= ch <= "\u3096" for ch in run):
        options.append(reading_option(reading.text))  # 中古のいす: half converted, read it
    if reading.normalized and (not kana or len(reading.starts) == 1):
        options.append((_cjk_phrase(reading.normalized),))  # いす → 椅子, 鉄くず → 鉄屑
    if synonyms is not None:
        options += [phrases_of(alt) for alt in synonyms.expand(folded, kana=kana)]
    return QueryTerm(tuple(dict.fromkeys(o for o in options if o))[:MAX_OPTIONS], typed, None, last)


def query_terms(text: str, synonyms=None) -> list[QueryTerm]:
    """Parse user text into AND-ed terms. Nothing in the text is syntax: quotes, stars,
    brackets, minus, OR and NEAR are either separators or plain words. Runs of letters
    and digits written together (RC-40, rc40, 第2a種's 2a) are one phrase; the last word
    is a prefix (as the user is still typing it)."""
    out: list[QueryTerm] = []
    words = _words(text)
    for number, word in enumerate(words):
        pending: list[str] = []  # Latin runs of this word, one phrase
        for position, (cjk, run) in enumerate(word):
            last = number == len(words) - 1 and position == len(word) - 1
            if not cjk:
                pending.append(run)
                if position == len(word) - 1 or word[position + 1][0]:
                    term = _latin_term(pending, last, synonyms)
                    pending = []
                    if term not in out:
                        out.append(term)
                continue
            term = _cjk_term(run, last, synonyms)
            if term is not None and term not in out:
                out.append(term)
    return out[:MAX_QUERY_TERMS]


def plain_query(text: str) -> str:
    """The user's text with every syntax character removed, letters and digits apart,
    kana-only words as their folded reading (katakana): what we send to engines that
    have their own query language (Meilisearch), whose documents carry the same forms."""
    words = []
    for word in _words(text):
        for cjk, run in word:
            if cjk:
                words.append(fold_kana(run) if is_kana(run) else run)
            else:
                words.extend(parts(run))
    return " ".join(w for w in words if w)
