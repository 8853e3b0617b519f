"""The inputs of bench_decoders.py: transcripts, and log-probs to decode (synthetic ones made from
the transcripts, a trained model's, or ones saved by an earlier run), with the texts its LMs are
trained on."""
from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from _common import ROOT

from seqlabel.scoring.metrics import to_words

SHARED_DATA = Path(os.environ.get("SEQLABEL_SHARED_DATA", ROOT.parent / "shared" / "data")).expanduser()
AN4_TRANSCRIPTS = SHARED_DATA / "an4_wav" / "etc" / "an4_train.transcription"
BOUNDARY = "|"


@dataclass(frozen=True)
class Inputs:
    log_probs: list[np.ndarray]  # (T, C) per utterance
    refs: list[list[str]]  # reference tokens per utterance
    tokens: list[str]  # class names, index 0 the blank
    lm_texts: list[str]  # transcripts the LMs learn from (none of them decoded)
    source: str  # where the log-probs come from


def load_inputs(args: argparse.Namespace) -> Inputs:
    """The log-probs that bench_decoders.py's options ask for (``--log-probs``, ``--checkpoint`` with
    ``--manifest``, else synthetic ones from ``--texts``, AN4's transcripts or generated words)."""
    texts_path = args.texts or (AN4_TRANSCRIPTS if AN4_TRANSCRIPTS.is_file() else None)
    texts = read_transcripts(texts_path) if texts_path else generated_transcripts(args.utterances * 4, args.seed)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(texts))
    if args.checkpoint or args.log_probs:
        if args.log_probs:
            saved = np.load(args.log_probs, allow_pickle=False)
            tokens = saved["tokens"].tolist()
            lengths = saved["lengths"][: args.utterances]
            flat = saved["log_probs"]
            offsets = np.concatenate([[0], np.cumsum(saved["lengths"])])
            log_probs = [flat[offsets[i]:offsets[i + 1]].astype(np.float64) for i in range(len(lengths))]
            refs = [r.split() for r in saved["refs"][: args.utterances].tolist()]
            source = str(saved["source"])
        else:
            if not args.manifest:
                raise SystemExit("--checkpoint needs --manifest")
            log_probs, refs, tokens = load_checkpoint_log_probs(args.checkpoint, args.manifest, args.utterances)
            source = f"{args.checkpoint} on {args.manifest}"
        decoded = set(" ".join(to_words(r)) for r in refs)
        lm_texts = read_transcripts(args.lm_texts) if args.lm_texts else [t for t in texts if t not in decoded]
    else:
        test = [texts[i] for i in order[: args.utterances]]
        lm_texts = read_transcripts(args.lm_texts) if args.lm_texts else [texts[i] for i in order[args.utterances:]]
        chars = sorted({c for t in texts for c in t if c != " "})
        tokens = ["<blank>", BOUNDARY, *chars]
        log_probs = [synthetic_log_probs(t, tokens, rng, args.confusion) for t in test]
        refs = [tokenize(t) for t in test]
        source = f"synthetic peaky log-probs from {texts_path or 'generated words'} (confusion {args.confusion})"
    return Inputs(log_probs, refs, tokens, lm_texts, source)


def read_transcripts(path: Path) -> list[str]:
    """AN4 ``.transcription`` lines (``<s> WORDS </s> (id)``), a JSONL manifest, or plain lines."""
    if path.suffix == ".jsonl":
        return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]
    out = []
    for line in path.read_text().splitlines():
        line = re.sub(r"\([^)]*\)\s*$", "", line).replace("<s>", "").replace("</s>", "")
        if line.strip():
            out.append(" ".join(line.split()))
    return out


def generated_transcripts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    words = ["".join(rng.choice(letters, size=rng.integers(2, 7))) for _ in range(300)]
    zipf = 1.0 / np.arange(1, len(words) + 1)
    zipf /= zipf.sum()
    return [" ".join(rng.choice(words, size=rng.integers(2, 9), p=zipf)) for _ in range(n)]


def tokenize(text: str) -> list[str]:
    return [BOUNDARY if c == " " else c for c in " ".join(text.split())]


def synthetic_log_probs(text: str, tokens: list[str], rng: np.random.Generator, confusion: float) -> np.ndarray:
    """A peaky CTC-like (T, C) log-prob matrix for ``text``: one or two frames per token, then blanks;
    a ``confusion`` fraction of tokens share their peak with a wrong token (sometimes winning)."""
    index = {t: i for i, t in enumerate(tokens)}
    C = len(tokens)
    frames: list[np.ndarray] = []

    def frame(best: int, second: Optional[int] = None, gap: float = 0.0) -> np.ndarray:
        logits = rng.normal(0.0, 1.0, C)
        logits[best] += rng.uniform(6.0, 9.0)
        if second is not None:
            logits[second] = logits[best] + gap
        return logits

    frames.extend(frame(0) for _ in range(rng.integers(1, 4)))
    for tok in tokenize(text):
        c = index[tok]
        confused = rng.random() < confusion
        wrong = int(rng.choice([k for k in range(1, C) if k != c])) if confused else None
        gap = rng.normal(0.0, 0.7)
        for _ in range(rng.integers(1, 3)):
            frames.append(frame(c, wrong, gap) if confused else frame(c))
        frames.extend(frame(0) for _ in range(rng.integers(1, 4)))
    logits = np.stack(frames)  # (T, C)
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def load_checkpoint_log_probs(checkpoint: str, manifest: str, n: int) -> tuple[list[np.ndarray], list[list[str]], list[str]]:
    from seqlabel.data.manifest import read_manifest
    from seqlabel.inference.recognizer import Recognizer

    recognizer = Recognizer.from_checkpoint(checkpoint, "auto")
    if recognizer.vocab.unit != "char":
        raise SystemExit("the benchmark compares character decoders: give a character model")
    utts = read_manifest(manifest)[:n]
    refs = recognizer.references(utts)
    return recognizer.log_probs(utts), [refs[u.id] for u in utts], recognizer.vocab.tokens
