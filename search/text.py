"""Text normalisation and tokenisation shared by the embedded engines.

Japanese has no spaces and many two-character words (椅子, 土砂, 砕石), so CJK runs are
indexed as overlapping character bigrams; Latin and digits as whole words. Everything is
NFKC-normalised and case-folded first, so ＲＣ－４０ and rc-40 are the same words."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .documents import MAX_QUERY_TERMS, MAX_TEXT_CHARS

MAX_TOKEN_CHARS = 64  # PostgreSQL refuses lexemes over 2 KB; nobody searches such words


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").casefold()


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


def runs(text: str) -> list[tuple[bool, str]]:
    """Split normalised text into (is_cjk, run) pieces; everything else separates."""
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


def index_terms(text: str) -> list[str]:
    """Terms to index, in text order (positions matter for phrase matching).

    A CJK run yields its bigrams plus its last character alone: then every character
    of the text starts some term, so a one-character query is a prefix query."""
    terms: list[str] = []
    for cjk, run in runs(normalise(text)):
        if cjk:
            terms.extend(_bigrams(run))
            terms.append(run[-1])
        else:
            terms.append(run[:MAX_TOKEN_CHARS])
    return terms


@dataclass(frozen=True)
class QueryTerm:
    """One AND-ed element of a query: a phrase of consecutive terms, optionally with
    the last term matched as a prefix."""

    terms: tuple[str, ...]
    prefix: bool = False


def query_terms(text: str) -> list[QueryTerm]:
    """Parse user text into AND-ed terms. Nothing in the text is syntax: quotes, stars,
    brackets, minus, OR and NEAR are either separators or plain words."""
    pieces = runs(normalise(text[:MAX_TEXT_CHARS]))
    out: list[QueryTerm] = []
    for position, (cjk, run) in enumerate(pieces):
        if cjk:
            term = (
                QueryTerm((run,), prefix=True) if len(run) == 1 else QueryTerm(tuple(_bigrams(run)))
            )
        else:
            is_last = position == len(pieces) - 1
            term = QueryTerm((run[:MAX_TOKEN_CHARS],), prefix=is_last)
        if term not in out:
            out.append(term)
    return out[:MAX_QUERY_TERMS]


def plain_query(text: str) -> str:
    """The user's text with every syntax character removed: words and CJK runs joined by
    spaces. What we send to engines that have their own query language."""
    return " ".join(run for _, run in runs(normalise(text[:MAX_TEXT_CHARS])))
