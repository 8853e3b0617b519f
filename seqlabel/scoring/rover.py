"""System combination by voting (ROVER: Fiscus 1997, "A post-processing system to yield reduced word
error rates: Recognizer Output Voting Error Reduction"; NIST SCTK's ``rover`` tool).

Several systems' hypotheses of one utterance are aligned into a word transition network (WTN): a
sequence of slots, each holding one entry per system, a word or nothing (None: the system has no word
there). The first system's words make the first slots; each further system is aligned to the network
by edit distance (a word costs nothing in a slot where an earlier system has it, 1 elsewhere; a slot
the system skips costs 1 unless it already holds a None; a word of no slot costs 1 and opens a new
slot, empty for the systems before). Each slot then elects the entry with the largest summed system
weight, None included ("nothing here" wins when most systems have nothing); a tie goes to the entry
of the earliest system among the tied (so the first system is the tie-breaker: list the best one
first). This is ROVER's frequency-of-occurrence voting (alpha = 1, no confidences).

Units: ``by="word"`` votes on words, the runs of tokens between word boundaries (character models:
``t w o | f o u r`` -> ``two``, ``four``), and writes the winners back as tokens with the boundary
between them; ``by="token"`` votes on each token (phones). With one word per utterance (isolated
digits) this is a majority vote over the systems' whole answers.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Optional, Sequence

from seqlabel.data.transcripts import read_kaldi_text, write_kaldi_text
from seqlabel.errors import ConfigError

Word = tuple[str, ...]  # the tokens of one word (by="word") or one token (by="token")
Slot = list[Optional[Word]]  # one entry per system aligned so far; None: no word there


def split_words(tokens: Sequence[str], boundary: str) -> list[Word]:
    """Tokens -> words at ``boundary`` (repeated or edge boundaries make no empty words). Unlike
    ``metrics.to_words``, which joins each word into one string, a word keeps its tokens, so that the
    winners are written back as the very tokens the systems produced."""
    words: list[Word] = []
    current: list[str] = []
    for token in tokens:
        if token == boundary:
            if current:
                words.append(tuple(current))
            current = []
        else:
            current.append(token)
    if current:
        words.append(tuple(current))
    return words


def join_words(words: Sequence[Word], boundary: str) -> list[str]:
    """Words -> tokens, ``boundary`` between consecutive words."""
    tokens: list[str] = []
    for k, word in enumerate(words):
        if k:
            tokens.append(boundary)
        tokens.extend(word)
    return tokens


def align_into(network: list[Slot], words: Sequence[Word], systems_before: int) -> list[Slot]:
    """The network with one more system's ``words`` aligned in (see the module docstring); each returned
    slot holds ``systems_before + 1`` entries."""
    n, m = len(network), len(words)

    def match(i: int, j: int) -> int:  # word j-1 into slot i-1
        return 0 if words[j - 1] in network[i - 1] else 1

    # cost[i][j]: aligning the first i slots with the first j words
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = cost[i - 1][0] + _skip_cost(network[i - 1])
    for j in range(1, m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(cost[i - 1][j - 1] + match(i, j), cost[i - 1][j] + _skip_cost(network[i - 1]),
                             cost[i][j - 1] + 1)
    merged: list[Slot] = []  # built backwards
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + match(i, j):
            merged.append(network[i - 1] + [words[j - 1]])
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + _skip_cost(network[i - 1]):
            merged.append(network[i - 1] + [None])
            i -= 1
        else:
            merged.append([None] * systems_before + [words[j - 1]])
            j -= 1
    return merged[::-1]


def _skip_cost(slot: Slot) -> int:
    return 0 if None in slot else 1


def vote(network: Sequence[Slot], weights: Sequence[float]) -> list[Word]:
    """Each slot's elected word (None elected: no word), in order; see the module docstring."""
    out: list[Word] = []
    for slot in network:
        score: dict[Optional[Word], float] = defaultdict(float)
        first: dict[Optional[Word], int] = {}
        for system, entry in enumerate(slot):
            score[entry] += weights[system]
            first.setdefault(entry, system)
        best = max(score, key=lambda entry: (score[entry], -first[entry]))
        if best is not None:
            out.append(best)
    return out


def combine(hypotheses: Sequence[Sequence[str]], by: str = "word", boundary: str = "|",
            weights: Optional[Sequence[float]] = None) -> list[str]:
    """ROVER of one utterance: ``hypotheses[s]`` is system s's tokens; returns the combined tokens."""
    if by not in ("word", "token"):
        raise ValueError(f"by must be 'word' or 'token', got {by!r}")
    if not hypotheses:
        raise ValueError("ROVER needs at least one hypothesis")
    weights = [1.0] * len(hypotheses) if weights is None else list(weights)
    if len(weights) != len(hypotheses):
        raise ValueError(f"{len(weights)} weights for {len(hypotheses)} systems")
    units = [split_words(h, boundary) if by == "word" else [(t,) for t in h] for h in hypotheses]
    network: list[Slot] = [[word] for word in units[0]]
    for s, words in enumerate(units[1:], 1):
        network = align_into(network, words, s)
    elected = vote(network, weights)
    return join_words(elected, boundary) if by == "word" else [w[0] for w in elected]


def combine_files(files: Sequence[Path], out: Path, by: str = "word", boundary: str = "|",
                  weights: Optional[Sequence[float]] = None) -> dict[str, list[str]]:
    """ROVER of Kaldi text files, one per system, of the same utterances (ties: the earliest file),
    written to ``out`` in the first file's order; returns utt-id -> combined tokens."""
    if len(files) < 2:
        raise ConfigError(f"combining needs the hypotheses of at least 2 systems, got {len(files)} file(s)")
    if by not in ("word", "token"):
        raise ConfigError(f"combine: by must be 'word' or 'token', got {by!r}")
    if weights is not None and (len(weights) != len(files) or not all(w > 0 for w in weights)):
        raise ConfigError(f"--weights: one positive weight per hypothesis file ({len(files)}), got {list(weights)}")
    systems = [read_kaldi_text(f) for f in files]
    for path, hyps in zip(files[1:], systems[1:]):
        missing, extra = sorted(set(systems[0]) - set(hyps)), sorted(set(hyps) - set(systems[0]))
        if missing or extra:
            which = (f"lacks {len(missing)} of {files[0]}'s utterances (e.g. {missing[:3]})" if missing
                     else f"has {len(extra)} utterances {files[0]} lacks (e.g. {extra[:3]})")
            raise ConfigError(f"{path} {which}: every system must transcribe the same utterances")
    combined = {u: combine([s[u] for s in systems], by, boundary, weights) for u in systems[0]}
    write_kaldi_text(out, combined.items())
    return combined
