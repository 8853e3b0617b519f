"""One utterance's posteriors, hypothesis and reference for ``seqlabel plot posteriorgram``, computed
as ``decode`` computes them: the features normalised as in decoding (with ``features.cmvn: speaker``,
with the statistics of its speaker's utterances in the same manifest), the hypothesis of the
checkpoint's decoder."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from seqlabel.data.dataset import extract_features
from seqlabel.data.manifest import speaker_of
from seqlabel.errors import DataError
from seqlabel.features.cmvn import speaker_groups
from seqlabel.inference.batch import log_probs_all
from seqlabel.inference.recognizer import Recognizer
from seqlabel.types import Hypothesis, Utterance


@dataclass(frozen=True)
class Posteriorgram:
    utterance: Utterance
    posteriors: np.ndarray  # (T', C) probabilities
    hypothesis: Hypothesis  # what `seqlabel decode` gives the utterance
    reference: list[str]  # its transcript's tokens


def find_utterance(utts: Sequence[Utterance], utt_id: str, manifest: str) -> Utterance:
    """The utterance ``utt_id`` of a manifest's ``utts``; refused with the nearest ids when absent."""
    utt = next((u for u in utts if u.id == utt_id), None)
    if utt is None:
        close = difflib.get_close_matches(utt_id, [u.id for u in utts], n=3)
        some = ", ".join(u.id for u in utts[:3])
        hint = f"; did you mean {', '.join(close)}?" if close else f" (it holds e.g. {some})"
        raise DataError(f"utterance {utt_id!r} is not in {manifest}{hint}")
    return utt


def posteriorgram(recognizer: Recognizer, utts: Sequence[Utterance], utt_id: str, manifest: str) -> Posteriorgram:
    """The posteriorgram of utterance ``utt_id`` of the manifest ``utts`` (named ``manifest`` in errors)."""
    utt = find_utterance(utts, utt_id, manifest)
    group = [utt]
    if recognizer.config.features.cmvn == "speaker":  # normalised with its speaker's utterances, as decode does
        speaker_groups(utts, recognizer.config.data.speaker_from_id)  # refuses utterances without a speaker
        group = [u for u in utts if speaker_of(u) == speaker_of(utt)]
    feats = recognizer.normalize(group, extract_features(group, recognizer.extractor, progress=False))
    (lp,) = log_probs_all(recognizer.model, [feats[group.index(utt)]], recognizer.device,
                          amp=recognizer.config.train.amp)  # (T', C)
    hypothesis = recognizer.decode(lp, utt.id)[0]
    return Posteriorgram(utt, np.exp(lp), hypothesis, recognizer.references([utt])[utt.id])


def draw(recognizer: Recognizer, utts: Sequence[Utterance], utt_id: str, manifest: str, out: Path,
         name: str) -> Path:
    """The PNG of ``posteriorgram`` (titled with the checkpoint's ``name``) in ``out``."""
    from seqlabel.scoring.plot import draw_posteriorgram

    p = posteriorgram(recognizer, utts, utt_id, manifest)
    return draw_posteriorgram(p.posteriors, recognizer.vocab.tokens, out, reference=p.reference,
                              hypothesis=p.hypothesis.tokens, hypothesis_frames=p.hypothesis.timesteps,
                              title=f"{utt_id} ({name}): {p.posteriors.shape[0]} output frames")
