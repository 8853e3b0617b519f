"""Pseudo-labels: a manifest of unlabelled (or held-out) utterances transcribed by the models themselves, for
self-training (Kemp & Waibel 1999; Kahn et al. 2020, "Self-training for end-to-end speech recognition").

An utterance is kept when at least ``min_agree`` of the systems give it the same hypothesis (the systems'
Kaldi text or CTM files, e.g. ``decode --out hyp.txt --ctm hyp.ctm`` of several models) and, where CTMs give
confidences, the agreeing systems' mean confidence is at least ``min_conf``; a system's confidence in an
utterance is that of its least sure token. Empty hypotheses are never kept. The kept utterances keep every
manifest field but ``text``, which becomes the hypothesis (tokens joined as ``Vocab.to_text`` joins them).
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence

from seqlabel.data.manifest import read_manifest, speaker_of, write_manifest
from seqlabel.data.transcripts import read_ctm_utterances, read_kaldi_text
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, DataError
from seqlabel.types import Utterance

DROP_REASONS = ("no hypothesis", "empty", "disagree", "low confidence")


@dataclass(frozen=True)
class SystemOutput:
    """One system's hypotheses: utterance id -> tokens, and (from a CTM) -> its least sure token's confidence."""

    tokens: dict[str, list[str]]
    confidence: Optional[dict[str, float]] = None


@dataclass
class PseudoLabels:
    kept: list[Utterance]
    total: int
    dropped: Counter = field(default_factory=Counter)  # reason (DROP_REASONS) -> utterances
    speakers: dict[str, tuple[int, int]] = field(default_factory=dict)  # speaker -> (kept, total)

    def summary(self) -> str:
        why = ", ".join(f"{n} {reason}" for reason in DROP_REASONS if (n := self.dropped[reason]))
        worst = sorted(self.speakers.items(), key=lambda kv: kv[1][0] / kv[1][1])[:3]
        per = ", ".join(f"{spk} {k}/{n}" for spk, (k, n) in worst)
        return (f"kept {len(self.kept)} of {self.total} utterances ({100 * len(self.kept) / max(self.total, 1):.1f}%)"
                + (f"; dropped: {why}" if why else "") + (f"; fewest kept: {per}" if len(self.speakers) > 1 else ""))


def read_system(path: str | os.PathLike) -> SystemOutput:
    """A Kaldi text file of hypotheses, or a CTM (``.ctm``: tokens in time order, with confidences)."""
    path = Path(path)
    if path.suffix.lower() != ".ctm":
        return SystemOutput(read_kaldi_text(path))
    utts = {utt: sorted(entries, key=lambda e: e.start) for utt, entries in read_ctm_utterances(path).items()}
    return SystemOutput({utt: [e.token for e in entries] for utt, entries in utts.items()},
                        {utt: min(e.confidence for e in entries) for utt, entries in utts.items()})


def select(utts: Sequence[Utterance], systems: Sequence[SystemOutput], vocab: Vocab,
           min_agree: Optional[int] = None, min_conf: float = 0.0) -> PseudoLabels:
    """The utterances of ``utts`` the systems agree on (``min_agree`` of them, default all), sure enough
    (``min_conf``, over the agreeing systems that have confidences), with their hypotheses as text."""
    need = len(systems) if min_agree is None else min_agree
    if not systems:
        raise ConfigError("pseudo-labelling needs the hypotheses of at least one system")
    if not 1 <= need <= len(systems):
        raise ConfigError(f"--min-agree must be between 1 and the number of systems ({len(systems)}), got {need}")
    if min_conf > 0 and all(s.confidence is None for s in systems):
        raise ConfigError("--min-conf needs confidences: give CTM files (`seqlabel decode ... --ctm FILE`)")
    out = PseudoLabels([], len(utts))
    for utt in utts:
        said = [tuple(s.tokens[utt.id]) for s in systems if utt.id in s.tokens]
        hyp, votes = Counter(said).most_common(1)[0] if said else ((), 0)
        sure = [s.confidence[utt.id] for s in systems
                if s.confidence is not None and tuple(s.tokens.get(utt.id, ())) == hyp and utt.id in s.confidence]
        reason = ("no hypothesis" if not said else "empty" if not hyp else "disagree" if votes < need
                  else "low confidence" if sure and sum(sure) / len(sure) < min_conf else None)
        kept, total = out.speakers.get(speaker_of(utt), (0, 0))
        out.speakers[speaker_of(utt)] = (kept + (reason is None), total + 1)
        if reason:
            out.dropped[reason] += 1
            continue
        out.kept.append(replace(utt, text=_text(hyp, vocab, utt.id)))
    return out


def _text(tokens: Sequence[str], vocab: Vocab, utt_id: str) -> str:
    """Hypothesis tokens -> manifest text; a character model's token longer than one character means the
    files are of another unit."""
    if vocab.unit == "char":
        long = next((t for t in tokens if len(t) != 1), None)
        if long is not None:
            raise DataError(f"utterance {utt_id!r}: hypothesis token {long!r} is not one character; for phone or "
                            "word hypotheses pass --unit phone")
    return vocab.to_text(tokens)


def pseudolabel_files(manifest: str | os.PathLike, hypotheses: Sequence[str | os.PathLike], out: str | os.PathLike,
                      min_agree: Optional[int] = None, min_conf: float = 0.0, unit: str = "char",
                      word_boundary: str = "|") -> PseudoLabels:
    """``select`` over files: MANIFEST's utterances, the systems' hypothesis files; writes the kept ones to
    ``out`` (a manifest). A hypothesis file naming utterances the manifest lacks is refused (wrong pairing)."""
    utts = read_manifest(manifest)
    known = {u.id for u in utts}
    systems = []
    for path in hypotheses:
        system = read_system(path)
        stray = sorted(set(system.tokens) - known)
        if stray:
            raise DataError(f"{path}: {len(stray)} utterance(s) not in {manifest} (e.g. {stray[0]!r}): "
                            "hypotheses and manifest must be of the same utterances")
        systems.append(system)
    labels = select(utts, systems, Vocab([], unit, word_boundary), min_agree, min_conf)
    if not labels.kept:
        raise DataError(f"no utterance of {manifest} is left ({labels.summary()}): lower --min-agree or --min-conf")
    write_manifest(out, labels.kept)
    return labels
