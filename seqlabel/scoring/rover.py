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
first). This is ROVER's frequency-of-occurrence voting (``method="freq"``).

With confidences (each token's, e.g. the CTM of ``seqlabel decode --ctm``; a word's is the lowest of
its tokens', as in a word-level CTM), ROVER's confidence voting scores each entry w of a slot as

    alpha * N(w) / N + (1 - alpha) * C(w)

N(w) the summed weight of the systems with w, N of all systems, C(w) their weighted mean confidence
in w (``method="avgconf"``) or the highest (``"maxconf"``); "nothing here" has confidence
``null_conf``. alpha = 1 is frequency voting ("freq" ignores alpha); set alpha and null_conf (both
default 0.5) on a dev set (NIST's ``rover -m avgconf -a ALPHA -c CONF``).

Units: ``by="word"`` votes on words, the runs of tokens between word boundaries (character models:
``t w o | f o u r`` -> ``two``, ``four``), and writes the winners back as tokens with the boundary
between them; ``by="token"`` votes on each token (phones). With one word per utterance (isolated
digits) this is a majority vote over the systems' whole answers.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Optional, Sequence

from seqlabel.data.transcripts import read_ctm_utterances, read_kaldi_text, write_kaldi_text
from seqlabel.errors import ConfigError

Word = tuple[str, ...]  # the tokens of one word (by="word") or one token (by="token")
Slot = list[Optional[Word]]  # one entry per system aligned so far; None: no word there
METHODS = ("freq", "avgconf", "maxconf")


def split_words(tokens: Sequence[str], boundary: str) -> list[Word]:
    """Tokens -> words at ``boundary`` (repeated or edge boundaries make no empty words). Unlike
    ``metrics.to_words``, which joins each word into one string, a word keeps its tokens, so that the
    winners are written back as the very tokens the systems produced."""
    return [tuple(tokens[k] for k in run) for run in _word_runs(tokens, boundary)]


def _word_runs(tokens: Sequence[str], boundary: str) -> list[list[int]]:
    """The positions of each word's tokens: the runs between boundaries, empty runs dropped."""
    runs: list[list[int]] = [[]]
    for k, token in enumerate(tokens):
        if token != boundary:
            runs[-1].append(k)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


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


def vote(network: Sequence[Slot], weights: Sequence[float], confidences: Optional[Sequence[Sequence[float]]] = None,
         method: str = "freq", alpha: float = 0.5, null_conf: float = 0.5) -> list[Word]:
    """Each slot's elected word (None elected: no word), in order; see the module docstring.
    ``confidences[s]``: system s's word confidences in the order of its words (needed unless "freq")."""
    slot_confs = _slot_confidences(network, confidences, null_conf) if method != "freq" else None
    total = sum(weights)
    out: list[Word] = []
    for k, slot in enumerate(network):
        count: dict[Optional[Word], float] = defaultdict(float)
        conf: dict[Optional[Word], list[tuple[float, float]]] = defaultdict(list)  # (weight, confidence)
        first: dict[Optional[Word], int] = {}
        for system, entry in enumerate(slot):
            count[entry] += weights[system]
            first.setdefault(entry, system)
            if slot_confs is not None:
                conf[entry].append((weights[system], slot_confs[k][system]))

        def score(entry: Optional[Word]) -> float:
            if slot_confs is None:
                return count[entry]
            c = (max(v for _, v in conf[entry]) if method == "maxconf"
                 else sum(w * v for w, v in conf[entry]) / count[entry])
            return alpha * count[entry] / total + (1.0 - alpha) * c

        best = max(count, key=lambda entry: (score(entry), -first[entry]))
        if best is not None:
            out.append(best)
    return out


def _slot_confidences(network: Sequence[Slot], confidences: Optional[Sequence[Sequence[float]]],
                      null_conf: float) -> list[list[float]]:
    """[slot][system] -> the confidence of the system's entry there (``null_conf`` where it has none): each
    system's words fill its non-None entries in order, as ``align_into`` placed them."""
    if confidences is None:
        raise ValueError("confidence voting needs each system's word confidences")
    systems = len(network[0]) if network else len(confidences)
    if len(confidences) != systems:
        raise ValueError(f"confidences of {len(confidences)} systems for a network of {systems}")
    remaining = [iter(c) for c in confidences]
    table = [[null_conf if entry is None else next(remaining[s], None) for s, entry in enumerate(slot)]
             for slot in network]
    if any(c is None for row in table for c in row) or any(next(r, None) is not None for r in remaining):
        raise ValueError("each system needs exactly one confidence per word")
    return table  # type: ignore[return-value]


def combine(hypotheses: Sequence[Sequence[str]], by: str = "word", boundary: str = "|",
            weights: Optional[Sequence[float]] = None, confidences: Optional[Sequence[Sequence[float]]] = None,
            method: str = "freq", alpha: float = 0.5, null_conf: float = 0.5) -> list[str]:
    """ROVER of one utterance: ``hypotheses[s]`` is system s's tokens, ``confidences[s]`` (for
    ``method`` avgconf / maxconf) one confidence per token of it; returns the combined tokens."""
    if by not in ("word", "token"):
        raise ValueError(f"by must be 'word' or 'token', got {by!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not hypotheses:
        raise ValueError("ROVER needs at least one hypothesis")
    weights = [1.0] * len(hypotheses) if weights is None else list(weights)
    if len(weights) != len(hypotheses):
        raise ValueError(f"{len(weights)} weights for {len(hypotheses)} systems")
    units = [split_words(h, boundary) if by == "word" else [(t,) for t in h] for h in hypotheses]
    word_confs = None
    if method != "freq":
        if confidences is None or len(confidences) != len(hypotheses) or any(
                len(c) != len(h) for c, h in zip(confidences, hypotheses)):
            raise ValueError(f"method {method!r} needs one confidence per token of each hypothesis")
        word_confs = [_word_confidences(h, c, boundary) if by == "word" else list(c)
                      for h, c in zip(hypotheses, confidences)]
    network: list[Slot] = [[word] for word in units[0]]
    for s, words in enumerate(units[1:], 1):
        network = align_into(network, words, s)
    elected = vote(network, weights, word_confs, method, alpha, null_conf)
    return join_words(elected, boundary) if by == "word" else [w[0] for w in elected]


def _word_confidences(tokens: Sequence[str], confidences: Sequence[float], boundary: str) -> list[float]:
    """One confidence per word of ``split_words(tokens, boundary)``: the lowest of its tokens'."""
    return [min(confidences[k] for k in run) for run in _word_runs(tokens, boundary)]


def combine_files(files: Sequence[Path], out: Path, by: str = "word", boundary: str = "|",
                  weights: Optional[Sequence[float]] = None, method: str = "freq", alpha: float = 0.5,
                  null_conf: float = 0.5) -> dict[str, list[str]]:
    """ROVER of hypothesis files, one per system (ties: the earliest file), written to ``out`` as Kaldi text in
    the first file's order; returns utt-id -> combined tokens.

    The files are all Kaldi text (``utt tok tok ...``, the same utterances in each) or all CTM (``*.ctm``, as
    ``seqlabel decode --ctm`` writes, one line per token with its confidence; an utterance a CTM lacks is one that
    system left empty, and one that every CTM lacks is not written). Confidence voting needs CTMs."""
    if len(files) < 2:
        raise ConfigError(f"combining needs the hypotheses of at least 2 systems, got {len(files)} file(s)")
    if by not in ("word", "token"):
        raise ConfigError(f"combine: by must be 'word' or 'token', got {by!r}")
    if method not in METHODS:
        raise ConfigError(f"combine: method must be one of {', '.join(METHODS)}, got {method!r}")
    if not 0.0 <= alpha <= 1.0 or not 0.0 <= null_conf <= 1.0:
        raise ConfigError(f"combine: --alpha and --null-conf must lie in [0, 1], got {alpha} and {null_conf}")
    if weights is not None and (len(weights) != len(files) or not all(w > 0 for w in weights)):
        raise ConfigError(f"--weights: one positive weight per hypothesis file ({len(files)}), got {list(weights)}")
    ctm = [f.suffix == ".ctm" for f in files]
    if any(ctm) and not all(ctm):
        raise ConfigError(f"combine: the hypothesis files must be all Kaldi text or all CTM (*.ctm), got "
                          f"{', '.join(str(f) for f in files)}")
    if method != "freq" and not all(ctm):
        raise ConfigError(f"combine --method {method} votes with confidences: give CTM files (seqlabel decode --ctm)")
    if all(ctm):
        systems, confidences = _read_ctms(files)
    else:
        systems, confidences = [read_kaldi_text(f) for f in files], None
        for path, hyps in zip(files[1:], systems[1:]):
            missing, extra = sorted(set(systems[0]) - set(hyps)), sorted(set(hyps) - set(systems[0]))
            if missing or extra:
                which = (f"lacks {len(missing)} of {files[0]}'s utterances (e.g. {missing[:3]})" if missing
                         else f"has {len(extra)} utterances {files[0]} lacks (e.g. {extra[:3]})")
                raise ConfigError(f"{path} {which}: every system must transcribe the same utterances")
    combined = {u: combine([s[u] for s in systems], by, boundary, weights,
                           None if confidences is None else [c[u] for c in confidences], method, alpha, null_conf)
                for u in systems[0]}
    write_kaldi_text(out, combined.items())
    return combined


def _read_ctms(files: Sequence[Path]) -> tuple[list[dict[str, list[str]]], list[dict[str, list[float]]]]:
    """Each CTM's utt -> tokens and utt -> confidences, over the union of their utterances (first
    appearance order, in every returned dict; empty where a CTM lacks the utterance)."""
    per_file = [read_ctm_utterances(f) for f in files]
    order = dict.fromkeys(u for utts in per_file for u in utts)
    return ([{u: [e.token for e in utts.get(u, [])] for u in order} for utts in per_file],
            [{u: [e.confidence for e in utts.get(u, [])] for u in order} for utts in per_file])
