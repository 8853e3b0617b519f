"""Corpus preparation recipes. Each recipe is a module ``corpora.<name>`` with a function

    prepare(data_dir: Path | None, out_dir: Path, **options) -> dict[str, Path]

that reads a corpus in its documented layout, validates it, writes JSONL manifests
(``train.jsonl``, ``dev.jsonl`` and, where the corpus has one, ``test.jsonl``) into
``out_dir`` and returns ``{split: manifest_path}``. Recipes are imported lazily.
"""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

from seqlabel.errors import ConfigError

RECIPES: dict[str, str] = {
    "fsdd": "Free Spoken Digit Dataset (8 kHz WAV, digits as characters)",
    "an4": "CMU AN4 census (16 kHz .wav/.sph/big-endian .raw under wav/, or Sphinx cepstra under feat/)",
    "timit": "TIMIT (LDC93S1): 462-speaker train, 50-speaker dev, 24-speaker core test; 61/48/39 phones",
    "librispeech": "LibriSpeech/<subset>/<spk>/<chapter>/*.flac + *.trans.txt, any subsets",
    "kaldi": "Kaldi data dirs (wav.scp, text, utt2spk, optional segments; or feats.scp with ark files)",
    "lhotse": "lhotse recordings + supervisions JSONL(.gz) manifests (lhotse itself not needed)",
    "dir": "a folder of audio files plus a TSV of id<TAB>transcript",
    "espeak": "synthetic phone-labelled speech made offline with eSpeak NG (the demo corpus)",
    "hershey": "synthetic online handwriting (pen strokes) from the Hershey script fonts, writer-disjoint splits",
    "iam_ondb": "IAM On-Line Handwriting Database (lineStrokes XML, ascii CSR transcripts, task split files)",
    "lines": "line images with .gt.txt transcripts (ocropus/kraken/Calamari), split by top-level folder",
    "iam": "IAM handwriting lines (lines/a01/a01-000u/a01-000u-00.png + ascii/lines.txt), writer-disjoint",
    "digits": "digit strings composed from scikit-learn's bundled 8x8 handwritten digits (writer-mixed)",
    "hershey_offline": "the hershey corpus's synthetic lines rendered as images at random pen widths (writer-disjoint)",
    "render": "plain text rendered with fonts as degraded manuscript-like line images (+ .gt.txt), seeded",
}


def load_recipe(name: str) -> ModuleType:
    if name not in RECIPES:
        raise ConfigError(f"unknown corpus {name!r}; known corpora: {', '.join(sorted(RECIPES))}")
    return importlib.import_module(f"seqlabel.corpora.{name}")


def run_recipe(name: str, data_dir: Path | None, out_dir: Path, options: dict[str, Any]) -> dict[str, Path]:
    """Run recipe ``name``, refusing options its ``prepare`` does not take."""
    recipe = load_recipe(name)
    params = inspect.signature(recipe.prepare).parameters
    valid = [p for p in params if p not in ("data_dir", "out_dir")]
    for key in options:
        if key not in valid:
            raise ConfigError(f"corpus {name!r} has no option {key!r}; its options: {', '.join(valid) or 'none'}")
    return recipe.prepare(data_dir, out_dir, **options)
