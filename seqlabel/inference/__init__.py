"""A trained model put to use: a checkpoint made ready to transcribe (``recognizer.Recognizer``, also one
in-memory utterance a call), running a model over many utterances in length-sorted batches (``batch``),
files and folders transcribed without a manifest (``transcribe``, written by ``writers``) and
deployable TorchScript/ONNX files (``export``)."""
from __future__ import annotations

import importlib
import warnings
from typing import Any

# Names the module seqlabel.inference had before 0.2, and where they live now (aliases go in 0.3).
_MOVED = {
    "resolve_device": "seqlabel.runtime", "autocast": "seqlabel.runtime", "amp_dtype": "seqlabel.runtime",
    "ctc_min_frames": "seqlabel.models.lengths", "frame_seconds": "seqlabel.models.lengths",
    "load_lm": "seqlabel.decoders.factory", "load_lexicon": "seqlabel.decoders.factory",
    "build_decoder": "seqlabel.decoders.factory", **{name: "seqlabel.inference.batch" for name in (
        "sorted_batches", "forward_all", "decode_log_probs", "decode_all", "beam_search_all", "log_probs_all",
        "transcribe", "greedy_transcribe")},
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(f"seqlabel.inference.{name} moved to {_MOVED[name]}.{name} in seqlabel 0.2; the old path "
                      "goes in 0.3", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'seqlabel.inference' has no attribute {name!r}")
