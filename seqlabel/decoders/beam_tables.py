"""The LM and lexicon seen as growing numpy tables, for the prefix beam search (``beam.py``).

LM states and trie nodes get small integer ids; a state's or node's row over all classes is
filled on first use and kept across utterances, so the search looks scores and moves up with
array indexing instead of calling the LM per hypothesis and token (the one-utterance search,
``beam_single``, reads the same rows as Python lists: ``row``, ``one``).

LMs are used through ``begin() -> state``, ``score(state, token) -> (logprob, state)``,
``end_score(state) -> logprob`` (natural logs; ``successors(state)`` when present) and ``vocab``;
lexicons through ``root``, ``node.child(token)``, ``node.words``, ``node.is_word_end`` and ``tokens``.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from seqlabel.errors import VocabError
from seqlabel.lm.lexicon import Lexicon, TrieNode

_SPECIAL = ("<s>", "</s>", "<unk>", "<UNK>")
_LIST_ROWS = 1 << 15  # rows kept as Python lists (``row``, ``one``) at most; dropped past that, made again on demand


def _remember(cache: dict, key: int, value: Any) -> Any:
    """cache[key] = value, emptying the cache first when it is full (Python lists cost 4x numpy's memory)."""
    if len(cache) >= _LIST_ROWS:
        cache.clear()
    cache[key] = value
    return value


def check_vocabularies(tokens: Sequence[str], lm: Any = None, lm_unit: str = "token", lexicon: Any = None) -> None:
    """Refuse an LM or lexicon that does not fit the model's classes ``tokens`` (index 0 the blank).

    A token LM must know every token; a word LM must know some word made of the tokens (or of the
    lexicon); a lexicon may only spell words with the tokens.
    """
    known = set(tokens[1:])
    lexicon_tokens = getattr(lexicon, "tokens", None)
    if lexicon is not None and lexicon_tokens is not None:
        foreign = sorted(set(lexicon_tokens) - known)
        if foreign:
            words = [w for w in getattr(lexicon, "words", [])
                     if any(t in foreign for sp in lexicon.spellings(w) for t in sp)][:5]
            raise VocabError(f"the lexicon spells words with {len(foreign)} token(s) the model does not have: "
                             f"{foreign[:10]} (e.g. in {words}); the model's tokens are {sorted(known)[:40]}")
    vocab = getattr(lm, "vocab", None)
    if lm is None or vocab is None:
        return
    lm_words = set(vocab) - set(_SPECIAL)
    if lm_unit == "token":
        missing = sorted(known - set(vocab))
        if missing:
            more = f", ... ({len(missing) - 10} more)" if len(missing) > 10 else ""
            shown = ", ".join(map(repr, missing[:10])) + more
            raise VocabError(f"the token LM does not know {len(missing)} of the model's tokens: [{shown}] "
                             f"(its vocabulary: {sorted(lm_words)[:20]}); train it on the same units and case, "
                             "e.g. seqlabel lm train MANIFEST --unit char")
        return
    if lexicon is not None:
        usable = [w for w in getattr(lexicon, "words", []) if w in vocab]
        if not usable and getattr(lexicon, "words", None):
            raise VocabError(f"the word LM knows none of the lexicon's words (LM words e.g. {sorted(lm_words)[:5]}, "
                             f"lexicon words e.g. {lexicon.words[:5]}): check the case")
        return
    if lm_words and not any(all(ch in known for ch in w) for w in lm_words):
        raise VocabError(f"no word of the word LM can be spelled with the model's tokens (LM words e.g. "
                         f"{sorted(lm_words)[:5]}, model tokens {sorted(known)[:40]}): check the case")


class _Grow:
    """A growable int64 or float64 table: rows appended, doubled when full."""

    def __init__(self, width: int, dtype: type, fill: float) -> None:
        self.data = np.full((16, width), fill, dtype=dtype)
        self.fill = fill

    def ensure(self, rows: int) -> None:
        if rows > self.data.shape[0]:
            extra = np.full((max(rows, 2 * self.data.shape[0]) - self.data.shape[0], self.data.shape[1]),
                            self.fill, dtype=self.data.dtype)
            self.data = np.concatenate([self.data, extra])


class _LMStates:
    """LM states as small integer ids, with cached end-of-sentence scores."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm
        self._ids: dict[Any, int] = {}
        self._states: list[Any] = []
        self._end = _Grow(1, np.float64, np.nan)  # (states, 1) log p(</s> | state); NaN: not asked yet

    def state_id(self, state: Any) -> int:
        i = self._ids.get(state)
        if i is None:
            i = self._ids[state] = len(self._states)
            self._states.append(state)
            self._end.ensure(i + 1)
        return i

    def end(self, sids: np.ndarray) -> np.ndarray:
        """log p(</s> | state) for an array of state ids (any shape)."""
        out = self._end.data[sids, 0]
        missing = np.isnan(out)
        if missing.any():
            for s in np.unique(sids[missing]).tolist():
                self._end.data[s, 0] = self.lm.end_score(self._states[s])
            out = self._end.data[sids, 0]
        return out


class TokenLMTable(_LMStates):
    """A token LM seen as tables: state id -> log-probs of every class and the next state ids.

    States get small integer ids; a state's row (C LM calls) is filled on first use and kept,
    across utterances too, so the search looks LM scores up with array indexing.
    """

    def __init__(self, lm: Any, tokens: Sequence[str]) -> None:
        super().__init__(lm)
        self.tokens = list(tokens)
        C = len(self.tokens)
        self.logp = _Grow(C, np.float64, 0.0)
        self.next = _Grow(C, np.int64, -1)
        self.filled = np.zeros(16, dtype=bool)
        self._rows: dict[int, tuple[list[float], list[int]]] = {}
        self.start = self.state_id(lm.begin())

    def row(self, sid: int) -> tuple[list[float], list[int]]:
        """State ``sid``'s log-probs and next states of every class as Python lists (filled rows never change)."""
        hit = self._rows.get(sid)
        if hit is None:
            self.ensure(np.array([sid]))
            hit = _remember(self._rows, sid, (self.logp.data[sid].tolist(), self.next.data[sid].tolist()))
        return hit

    def state_id(self, state: Any) -> int:
        known = len(self._states)
        i = super().state_id(state)
        if i == known:  # a new state: grow the tables
            self.logp.ensure(i + 1)
            self.next.ensure(i + 1)
            if i >= self.filled.size:
                self.filled = np.concatenate([self.filled, np.zeros(self.filled.size, dtype=bool)])
        return i

    def ensure(self, sids: np.ndarray) -> None:
        known = self.filled[sids]
        if known.all():
            return
        missing = sids[~known]
        successors = getattr(self.lm, "successors", None)  # NgramLM's whole-row fast path
        for s in np.unique(missing).tolist():
            state = self._states[s]
            row = successors(state) if successors is not None else {}
            for c in range(1, len(self.tokens)):
                hit = row.get(self.tokens[c])
                lp, nxt = hit if hit is not None else self.lm.score(state, self.tokens[c])
                self.logp.data[s, c] = lp
                self.next.data[s, c] = self.state_id(nxt)
            self.filled[s] = True


class WordLMTable(_LMStates):
    """A word LM with states as small integers and cached word scores."""

    def __init__(self, lm: Any) -> None:
        super().__init__(lm)
        self._cache: dict[tuple[int, str], tuple[float, int]] = {}
        self._best: dict[tuple[int, int], tuple[float, int, str]] = {}
        self.start = self.state_id(lm.begin())

    def score(self, sid: int, word: str) -> tuple[float, int]:
        key = (sid, word)
        hit = self._cache.get(key)
        if hit is None:
            lp, nxt = self.lm.score(self._states[sid], word)
            hit = self._cache[key] = (float(lp), self.state_id(nxt))
        return hit

    def best(self, sid: int, node_id: int, words: Sequence[str]) -> tuple[float, int, str]:
        """The most probable of a trie node's words (homophones) after state ``sid``."""
        key = (sid, node_id)
        hit = self._best.get(key)
        if hit is None:
            hit = max(((*self.score(sid, w), w) for w in words), key=lambda x: x[0])
            self._best[key] = hit
        return hit


def vocabulary_lexicon(words: Iterable[str], tokens: Sequence[str], boundary: Optional[int]) -> Lexicon:
    """The words of a word LM spelled with the model's tokens (characters): what a search without
    lexicon uses to know which word it is spelling (others are ``<unk>``)."""
    word_boundary = tokens[boundary] if boundary is not None else "|"
    known = set(tokens[1:]) - {word_boundary}
    spellable = sorted(w for w in words if w and w not in _SPECIAL and all(ch in known for ch in w))
    return Lexicon.from_words(spellable, "char", word_boundary)


class LexiconTable:
    """A trie seen as a table: node id x class -> child node id.

    Constrained (a lexicon): a missing child is -1 (not allowed); with a word-boundary class
    (character units) the boundary leads from a word-end node back to the root (node 0); without
    one (pronunciation lexicons over phones) words end implicitly. Open (``open_vocabulary``, the
    words of a word LM): a missing child is the sink node 1 (an unknown word), and the boundary
    leads back to the root from anywhere.
    """

    def __init__(self, lexicon: Any, tokens: Sequence[str], boundary: Optional[int],
                 open_vocabulary: bool = False) -> None:
        self.tokens = list(tokens)
        self.boundary = boundary
        self.open = open_vocabulary
        self._nodes: list[Any] = []
        self._ids: dict[int, int] = {}
        self.child = _Grow(len(self.tokens), np.int64, -1)
        self.filled = np.zeros(16, dtype=bool)
        self.is_end = np.zeros(16, dtype=bool)
        self._rows: dict[int, list[int]] = {}
        self.root = self.node_id(lexicon.root)
        self.sink = self.node_id(TrieNode()) if open_vocabulary else -1

    def node_id(self, node: Any) -> int:
        i = self._ids.get(id(node))
        if i is None:
            i = self._ids[id(node)] = len(self._nodes)
            self._nodes.append(node)
            self.child.ensure(i + 1)
            if i >= self.filled.size:
                self.filled = np.concatenate([self.filled, np.zeros(self.filled.size, dtype=bool)])
                self.is_end = np.concatenate([self.is_end, np.zeros(self.is_end.size, dtype=bool)])
            self.is_end[i] = bool(node.is_word_end)
        return i

    def ensure(self, nids: np.ndarray) -> None:
        known = self.filled[nids]
        if known.all():
            return
        missing = nids[~known]
        missing_child = self.sink if self.open else -1
        for n in np.unique(missing).tolist():
            node = self._nodes[n]
            for c in range(1, len(self.tokens)):
                if c == self.boundary:
                    self.child.data[n, c] = self.root if (self.open or self.is_end[n]) else -1
                    continue
                nxt = node.child(self.tokens[c])
                self.child.data[n, c] = missing_child if nxt is None else self.node_id(nxt)
            self.filled[n] = True

    def row(self, nid: int) -> list[int]:
        """Node ``nid``'s child of every class as a Python list (filled rows never change)."""
        hit = self._rows.get(nid)
        if hit is None:
            self.ensure(np.array([nid]))
            hit = _remember(self._rows, nid, self.child.data[nid].tolist())
        return hit

    def words(self, nid: int) -> list[str]:
        return list(self._nodes[nid].words)


class ClosureCache:
    """(LM state id, trie node id) -> what closing the word spelled so far gives: LM log-prob,
    next LM state, whether a word closes, the word (index into ``words``). Looked up for arrays
    of pairs at once (sorted keys, ``searchsorted``); misses are computed in Python once."""

    def __init__(self, compute: Callable[[int, int], tuple[float, int, bool, Optional[str]]]) -> None:
        self.compute = compute
        self.keys = np.empty(0, dtype=np.int64)
        self.lp = np.empty(0)
        self.sid = np.empty(0, dtype=np.int64)
        self.ok = np.empty(0, dtype=bool)
        self.word = np.empty(0, dtype=np.int64)
        self.words: list[str] = []
        self._word_ids: dict[str, int] = {}
        self._one: dict[int, tuple[float, int, bool, int]] = {}

    def lookup(self, sids: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        keys = (sids.astype(np.int64) << 32) | nodes.astype(np.int64)
        idx = np.searchsorted(self.keys, keys)
        hit = self.keys[np.minimum(idx, self.keys.size - 1)] == keys if self.keys.size else np.zeros(keys.shape, bool)
        if not hit.all():
            self._add(np.unique(keys[~hit]))
            idx = np.searchsorted(self.keys, keys)
        return self.lp[idx], self.sid[idx], self.ok[idx], self.word[idx]

    def one(self, sid: int, nid: int) -> tuple[float, int, bool, int]:
        """``lookup`` for one pair, as Python scalars."""
        key = (sid << 32) | nid
        hit = self._one.get(key)
        if hit is None:
            lp, nxt, ok, word = self.lookup(np.array([sid]), np.array([nid]))
            hit = _remember(self._one, key, (float(lp[0]), int(nxt[0]), bool(ok[0]), int(word[0])))
        return hit

    def _add(self, keys: np.ndarray) -> None:
        lp, sid, ok, word = [], [], [], []
        for key in keys.tolist():
            a, b, c, w = self.compute(key >> 32, key & 0xFFFFFFFF)
            lp.append(a)
            sid.append(b)
            ok.append(c)
            if w is not None and w not in self._word_ids:
                self._word_ids[w] = len(self.words)
                self.words.append(w)
            word.append(-1 if w is None else self._word_ids[w])
        all_keys = np.concatenate([self.keys, keys])
        order = np.argsort(all_keys, kind="stable")
        self.keys = all_keys[order]
        self.lp = np.concatenate([self.lp, lp])[order]
        self.sid = np.concatenate([self.sid, np.asarray(sid, dtype=np.int64)])[order]
        self.ok = np.concatenate([self.ok, np.asarray(ok, dtype=bool)])[order]
        self.word = np.concatenate([self.word, np.asarray(word, dtype=np.int64)])[order]
