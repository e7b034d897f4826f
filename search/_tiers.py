"""The relevance tiers of _query.order, decided from the titles the columns hold in
memory instead of SQL LIKE tests (see Columns.rank, whose rows they read)."""

from __future__ import annotations

import itertools
import operator

import numpy as np

from .text import READING, TEXT, QueryTerm

_NO_SPACES = operator.methodcaller("replace", b" ", b"")


class Tiers:
    """_query.order's relevance tiers for candidate rows, from the titles in memory:
    0 every word in the title as typed and whole, 1 in some form and whole, 2 in the
    title at all, 3 elsewhere. LIKE patterns become substring tests on UTF-8 bytes."""

    def __init__(self, columns, terms: list[QueryTerm]) -> None:
        self.columns = columns
        self.terms = terms

    def _strings(self, p: np.ndarray, column: str) -> list[bytes]:
        source = self.columns.titles if column == "title" else self.columns.readings
        strings = list(map(source.__getitem__, p.tolist()))
        if column == "reading":  # the words' readings run together
            strings = list(map(_NO_SPACES, strings))
        return strings

    @staticmethod
    def _like(strings: list[bytes], pattern: str) -> np.ndarray:
        """(map with C functions: no Python frame per string)"""
        pieces = [piece.encode() for piece in pattern.split("%") if piece]
        if not pieces:
            return np.ones(len(strings), bool)
        if len(pieces) == 1:
            found = map(operator.contains, strings, itertools.repeat(pieces[0]))
            return np.fromiter(found, bool, len(strings))

        def ordered(s: bytes) -> bool:
            at = 0
            for piece in pieces:
                found = s.find(piece, at)
                if found < 0:
                    return False
                at = found + len(piece)
            return True

        return np.fromiter(map(ordered, strings), bool, len(strings))

    def _test(self, p: np.ndarray, among: np.ndarray, typed_only: bool, whole: bool) -> np.ndarray:
        """_query._title_test on the rows p[among]."""
        ok = np.ones(len(among), bool)
        for term in self.terms:
            options = term.options[: term.typed] if typed_only else term.options
            found = np.zeros(len(among), bool)
            for option in options:
                first = option[0]
                if first.field == TEXT:
                    column, pattern = "title", first.word if whole else first.like
                elif first.field == READING:
                    column = "words" if whole else "reading"
                    pattern = first.word if whole else first.like
                else:
                    continue
                rest = np.flatnonzero(ok & ~found)
                if not len(rest):
                    break
                found[rest] = self.columns.title_test(
                    p[among[rest]],
                    (column, pattern),
                    lambda q, c=column, x=pattern: self._like(self._strings(q, c), x),
                )
            ok &= found
            if not ok.any():
                break
        return ok

    def of(self, p: np.ndarray, below: int = 4) -> np.ndarray:
        """The tier of each row; with `below`, only tiers under it are told apart (the
        others are reported as `below`)."""
        tier = np.full(len(p), min(3, below), np.int8)
        rest = np.arange(len(p))
        tests = ((0, True, True), (1, False, True), (2, False, False))
        for value, typed_only, whole in tests[:below]:
            if not len(rest):
                break
            hit = self._test(p, rest, typed_only, whole)
            tier[rest[hit]] = value
            rest = rest[~hit]
        return tier
