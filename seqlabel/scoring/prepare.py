"""What happens to reference and hypothesis tokens before they are aligned.

- ``normalize_tokens``: one Unicode normal form for both sides (NFC ``é`` and NFD ``e`` + U+0301
  are the same text). Character tokens are joined into their text, normalised and split into
  characters again, so a composition across two tokens is found; phone and word tokens are
  normalised one by one. ``none`` leaves the tokens exactly as they are.
- ``reference_tokens``: a manifest's transcripts as a model's tokens, without a vocabulary check:
  a reference token the model does not have is scored (as an error it cannot avoid), never refused.
- ``unknown_tokens``: how many reference tokens are outside the model's vocabulary, for the summary.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Collection, Mapping, Sequence

from seqlabel.data.unicode import control_characters, describe, normalize
from seqlabel.data.vocab import Vocab
from seqlabel.errors import VocabError
from seqlabel.types import Utterance

UNITS = ("char", "phone", "word")


def normalize_tokens(tokens: Sequence[str], form: str, unit: str, word_boundary: str = "|") -> list[str]:
    """``tokens`` in normal form ``form`` (``NFC``, ``NFD`` or ``none``); see the module docstring."""
    if form == "none":
        return list(tokens)
    if unit != "char":
        return [normalize(t, form) for t in tokens]
    text = normalize("".join(" " if t == word_boundary else t for t in tokens), form)
    return [word_boundary if c == " " else c for c in text]


def normalize_all(seqs: Mapping[str, Sequence[str]], form: str, unit: str,
                  word_boundary: str = "|") -> dict[str, list[str]]:
    return {u: normalize_tokens(t, form, unit, word_boundary) for u, t in seqs.items()}


def reference_tokens(utts: Sequence[Utterance], vocab: Vocab, lowercase: bool = False,
                     source: str = "references") -> dict[str, list[str]]:
    """Each utterance's transcript split as ``vocab`` splits it (lowercased as in training when
    ``lowercase``), tokens the vocabulary lacks included. ``source`` names the manifest in errors."""
    out = {}
    for u in utts:
        try:
            out[u.id] = vocab.tokenize(u.text.lower() if lowercase else u.text)
        except VocabError as e:
            raise VocabError(f"{source}, utterance {u.id!r}: {e}") from None
    return out


@dataclass(frozen=True)
class UnknownTokens:
    """Reference tokens outside the model's vocabulary: scored, each an error the model cannot avoid."""

    count: int  # occurrences in the references
    ref_tokens: int  # all reference tokens
    distinct: tuple[tuple[str, int], ...]  # (token, occurrences), most frequent first

    def note(self, shown: int = 5) -> str:
        listed = ", ".join(f"{_show(t)} ({n})" for t, n in self.distinct[:shown])
        more = f" and {len(self.distinct) - shown} more" if len(self.distinct) > shown else ""
        if self.count == 1:
            line = f"1 reference token is not in the model's vocabulary and counts as an error: {listed}"
        else:
            line = (f"{self.count} reference tokens ({len(self.distinct)} distinct) are not in the model's vocabulary "
                    f"and count as errors: {listed}{more}")
        if 2 * self.count > self.ref_tokens:
            line += f" ({self.count} of {self.ref_tokens}: was the model trained on another corpus or unit?)"
        return line

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "distinct": len(self.distinct),
                "tokens": [{"token": t, "count": n} for t, n in self.distinct]}


def unknown_tokens(refs: Mapping[str, Sequence[str]], known: Collection[str]) -> UnknownTokens | None:
    """Reference tokens not in ``known``, counted; None when there are none."""
    counts: Counter[str] = Counter(t for toks in refs.values() for t in toks if t not in known)
    if not counts:
        return None
    total = sum(len(toks) for toks in refs.values())
    return UnknownTokens(sum(counts.values()), total, tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))


def _show(token: str) -> str:
    """A token as text, or by code point when it does not print."""
    return describe(token) if len(token) == 1 and control_characters(token) else repr(token)
