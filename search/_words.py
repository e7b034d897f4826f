"""Query words' listing ids kept in a process's memory, and the changes since each was
read: a common word's ids cost 0.2-3 s to read from the inverted index (FTS5 decodes
every position list, GIN rechecks every heap row), so each word is read once and then
only the listings changed since are re-tested. Words with WORD_HITS ids or more are also
written to search_<name>_words, so that a new process starts with them (see _sync)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

WORD_HITS = 2_000  # a word matching at least this many listings is persisted
WORD_IDS = 12_000_000  # at most this many ids kept for words (8 bytes each), LRU first
WORD_COUNT = 50_000  # at most this many words kept, least recently used dropped first
WORD_CHANGES = 2_000  # a word with more listings changed since its read is read again
JOURNAL_IDS = 20_000  # changed ids remembered; a word older than them is read again


class WordIds:
    """Sorted ids per word key, each valid as of a change number, and a journal of the
    ids changed after each number (not thread-safe: the columns' owner locks)."""

    def __init__(self, seq: int) -> None:
        self._ids: OrderedDict[str, tuple[int, np.ndarray]] = OrderedDict()
        self._count = 0
        self._journal: list[tuple[int, np.ndarray]] = []  # (seq, ids changed up to it)
        self._journal_ids = 0
        self.floor = seq  # the journal holds every change after this number

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def nbytes(self) -> int:
        return self._count * 8

    def get(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(ids as read, ids changed since: to re-test), or None if the word must be read
        from the index (never read, dropped, or too much changed since)."""
        held = self._ids.get(key)
        if held is None:
            return None
        seq, ids = held
        if seq < self.floor:
            self.drop(key)
            return None
        changed = [c for at, c in self._journal if at > seq]
        dirty = np.unique(np.concatenate(changed)) if changed else np.zeros(0, np.int64)
        if len(dirty) > WORD_CHANGES:
            self.drop(key)
            return None
        self._ids.move_to_end(key)
        return ids, dirty

    def keep(self, key: str, ids: np.ndarray, seq: int) -> None:
        """A word's sorted ids, valid for every listing not changed after `seq`."""
        self.drop(key)
        self._ids[key] = (seq, ids)
        self._count += len(ids)
        while len(self._ids) > 1 and (self._count > WORD_IDS or len(self._ids) > WORD_COUNT):
            _, (_, dropped) = self._ids.popitem(last=False)
            self._count -= len(dropped)

    def drop(self, key: str) -> None:
        held = self._ids.pop(key, None)
        if held is not None:
            self._count -= len(held[1])

    def seed(self, floor: int, journal: list[tuple[int, np.ndarray]]) -> None:
        """The changes after `floor` (before any word is kept): from the index's log."""
        self.floor = floor
        self._journal = journal
        self._journal_ids = sum(len(ids) for _, ids in journal)

    def changed(self, ids: list[int], seq: int) -> None:
        """Listings changed up to change number `seq` (ids kept before are re-tested)."""
        if not ids:
            return
        self._journal.append((seq, np.array(ids, np.int64)))
        self._journal_ids += len(ids)
        while self._journal_ids > JOURNAL_IDS and self._journal:
            at, dropped = self._journal.pop(0)
            self._journal_ids -= len(dropped)
            self.floor = at
