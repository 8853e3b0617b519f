"""A loaded checkpoint's config, vocabulary and model, rebuilt (weights loaded, on CPU)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from seqlabel.config import Config, config_from_data
from seqlabel.data.vocab import Vocab
from seqlabel.errors import CheckpointError
from seqlabel.models.bilstm import BiLSTMCTC, build_model


def model_from_state(state: dict[str, Any], path: str | Path) -> tuple[Config, Vocab, BiLSTMCTC]:
    """The config, vocabulary and model (weights loaded, CPU) of a loaded checkpoint ``state``."""
    try:
        config = config_from_data(state["config"])
        vocab = Vocab.from_state(state["vocab"])
        model = build_model(state["input_dim"], len(vocab), config.model)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"{path}: incomplete or incompatible checkpoint: {str(e).splitlines()[0]}") from None
    return config, vocab, model
