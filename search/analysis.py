"""Japanese analysis: the folds that make differently typed text equal (width, case,
hiragana/katakana, long vowel marks) and readings and dictionary forms from SudachiPy
with SudachiDict core, so that いす finds 椅子 and タンス finds 箪笥.

Sudachi analyses one CJK run at a time (runs are cut at spaces, punctuation and Latin
letters), the same way for listings and for queries, so both sides agree. A Tokenizer
may not be used by two threads at once: each thread gets its own, all sharing one
memory-mapped dictionary."""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from sudachipy import Dictionary, SplitMode

# Hiragana → katakana (the blocks are 0x60 apart), then the variant spellings that people
# type interchangeably: ヴァ/バ, ヂ/ジ, ヅ/ズ, small ヵ/ヶ. Long vowel marks go: コンピューター,
# コンピュータ and こんぴゅーた are one word to a searcher.
_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
_TO_KATAKANA.update({ord("ゝ"): "ヽ", ord("ゞ"): "ヾ", ord("ー"): None, ord("ヵ"): "カ"})
_TO_KATAKANA.update({ord("ヶ"): "ケ", ord("ヂ"): "ジ", ord("ヅ"): "ズ", ord("ぢ"): "ジ"})
_TO_KATAKANA.update({ord("づ"): "ズ"})
_VU = (("ヴァ", "バ"), ("ヴィ", "ビ"), ("ヴェ", "ベ"), ("ヴォ", "ボ"), ("ヴ", "ブ"))
MAX_RUN_CHARS = 256
_INFLECTING = frozenset(
    {"動詞", "形容詞", "助動詞", "助詞"}
)  # Sudachi reads longer runs in pieces of this size


def nfkc(text: str) -> str:
    """Width and case folded: ＲＣ－４０ → rc-40, ｺﾝｸﾘｰﾄ → コンクリート."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def fold_kana(run: str) -> str:
    """One spelling for kana: katakana, without long vowel marks or ヴ/ヂ/ヅ variants."""
    folded = run.translate(_TO_KATAKANA)
    if "ヴ" in folded:
        for variant, plain in _VU:
            folded = folded.replace(variant, plain)
    return folded


def is_kana(run: str) -> bool:
    """Only hiragana, katakana and the long vowel mark (what a phone keyboard gives
    before the user converts to kanji)."""
    return all(0x3041 <= ord(ch) <= 0x30FF or 0x31F0 <= ord(ch) <= 0x31FF for ch in run)


@dataclass(frozen=True)
class Reading:
    """A run read by the dictionary: its reading in folded katakana, where each word's
    reading starts in it, and the run in dictionary forms when they differ (タンス →
    箪笥, 鉄くず → 鉄屑, いす → 椅子), else None."""

    text: str
    starts: tuple[int, ...]
    normalized: str | None


class _Analyser:
    """One dictionary per process (loaded on first use), one tokenizer per thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dictionary: Dictionary | None = None
        self._local = threading.local()

    def tokenizer(self):
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            with self._lock:
                if self._dictionary is None:
                    self._dictionary = Dictionary(dict="core")
            # Mode A: the shortest words, so every part of a compound (発生 / 土) has a start
            tokenizer = self._dictionary.tokenizer(
                mode=SplitMode.A, fields={"pos", "reading_form", "normalized_form"}
            )
            self._local.tokenizer = tokenizer
        return tokenizer


_ANALYSER = _Analyser()


@lru_cache(maxsize=100_000)
def read(run: str) -> Reading:
    """Reading of one CJK run (already NFKC-normalised, kana not yet folded). Cached:
    listings repeat their words, and a query asks for the same few runs again."""
    tokenizer = _ANALYSER.tokenizer()
    pieces: list[str] = []
    starts: list[int] = []
    forms: list[str] = []
    position = 0
    for offset in range(0, len(run), MAX_RUN_CHARS):
        for morpheme in tokenizer.tokenize(run[offset : offset + MAX_RUN_CHARS]):
            surface = fold_kana(morpheme.surface())
            pos = morpheme.part_of_speech()[0]
            # symbols read as キゴウ ("symbol"); words the dictionary lacks have no reading
            reading = surface if pos == "補助記号" else fold_kana(morpheme.reading_form())
            if not reading:
                reading = surface
            if not reading:
                continue
            starts.append(position)
            pieces.append(reading)
            position += len(reading)
            # Dictionary forms only for words that do not inflect: 使っ → 使う would make
            # a phrase nobody wrote.
            if pos in _INFLECTING:
                forms.append(surface)
            else:
                forms.append(fold_kana(nfkc(morpheme.normalized_form())) or surface)
    normalized = "".join(forms)
    return Reading(
        "".join(pieces), tuple(starts), normalized if normalized != fold_kana(run) else None
    )
