"""The input side, before features: JSONL manifests (``manifest``), the token table with blank = 0
(``vocab``), Kaldi text files (``transcripts``), the dataset that turns utterances into padded
batches (``dataset``) and the length-bucketed frame-budget sampler (``sampling``).

The dataset names (``SequenceDataset``, ``collate``, ``Split``, ...) load on first use: the dataset
depends on ``seqlabel.features``, which itself reads manifests from here.
"""
from __future__ import annotations

import importlib
from typing import Any

from seqlabel.data.manifest import read_manifest, speaker_of, write_manifest
from seqlabel.data.sampling import pack_batches
from seqlabel.data.transcripts import read_kaldi_text, write_kaldi_text
from seqlabel.data.vocab import Vocab

_DATASET_NAMES = ("Split", "SequenceDataset", "collate", "encode_targets", "extract_features", "load_split",
                  "normalize", "build_augment")


def __getattr__(name: str) -> Any:
    if name in _DATASET_NAMES:
        return getattr(importlib.import_module("seqlabel.data.dataset"), name)
    raise AttributeError(f"module 'seqlabel.data' has no attribute {name!r}")


__all__ = ["Vocab", "read_manifest", "write_manifest", "speaker_of", "pack_batches", "read_kaldi_text",
           "write_kaldi_text", *_DATASET_NAMES]
