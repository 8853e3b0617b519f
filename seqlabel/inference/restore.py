"""A loaded checkpoint's config, vocabulary and model, rebuilt (weights loaded, on CPU)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence

from seqlabel.config import Config, apply_overrides, config_from_data
from seqlabel.config.decode import BEAM_ONLY
from seqlabel.data.vocab import Vocab
from seqlabel.errors import CheckpointError, ConfigError
from seqlabel.models.bilstm import BiLSTMCTC, build_model


def stored_config(data: dict[str, Any], overrides: Sequence[str] = ()) -> Config:
    """The config a checkpoint holds, with ``decode.KEY=VALUE`` ``overrides``. A greedy decode section
    written before such settings were refused may hold an LM, lexicon or n-best size that greedy decoding
    ignored: those are dropped (overrides that set them are still refused, with the fix)."""
    data = apply_overrides(copy.deepcopy(data), list(overrides))
    decode = data.get("decode")
    if isinstance(decode, dict) and decode.get("decoder", "greedy") == "greedy":
        given = {o.split("=", 1)[0].strip() for o in overrides}
        decode.update({k: v for k, v in BEAM_ONLY.items() if f"decode.{k}" not in given})
    return config_from_data(data)


def model_from_state(state: dict[str, Any], path: str | Path,
                     overrides: Sequence[str] = ()) -> tuple[Config, Vocab, BiLSTMCTC]:
    """The config (with ``decode.KEY=VALUE`` ``overrides``), vocabulary and model (weights loaded, CPU)
    of a loaded checkpoint ``state``."""
    try:
        config = stored_config(state["config"], overrides)
        vocab = Vocab.from_state(state["vocab"])
        model = build_model(state["input_dim"], len(vocab), config.model)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"{path}: incomplete or incompatible checkpoint: {str(e).splitlines()[0]}") from None
    except ConfigError as e:  # its stored config (e.g. of another seqlabel version) or an override
        raise ConfigError(f"{path}: {e}") from None
    return config, vocab, model
