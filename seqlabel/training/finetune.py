"""Fine-tuning: a new run whose weights start from another run's checkpoint (``train.init_from``).

- The model section must describe the checkpoint's architecture (layers, sizes, conv blocks, stacking;
  dropouts may differ) and the features must give its input dimension; else a ConfigError names what differs.
- The vocabulary follows ``train.vocab_resize``, with kraken's semantics (``ketos train --resize``):
  ``fail`` keeps the checkpoint's tokens and refuses training data with tokens it lacks (naming them);
  ``union`` keeps the checkpoint's tokens at their ids and appends the new ones; ``new`` takes the data's
  vocabulary (``data.vocab`` or the training transcripts) and drops the rest. Output-layer rows of tokens
  the checkpoint knows are copied bit for bit; rows of new tokens keep the fresh model's initialisation.
- With ``features.cmvn: global`` the checkpoint's statistics are kept (the weights were trained on inputs
  normalised with them); training uses ``train.lr`` and the schedule of this config, from a fresh optimizer.
- ``train.freeze`` holds named parts (``models.parts``) fixed for the first ``train.freeze_epochs`` epochs.
- Every checkpoint of the run records where it started: ``init_from`` = path, SHA-256 of the file,
  ``vocab_resize``, tokens added and dropped. ``--resume`` continues the run from its own ``last.pt``.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from seqlabel.config import Config, ModelConfig, TrainConfig, to_dict
from seqlabel.data.vocab import Vocab
from seqlabel.errors import CheckpointError, ConfigError, VocabError
from seqlabel.inference.restore import model_from_state, stored_config
from seqlabel.models.bilstm import BiLSTMCTC
from seqlabel.models.checkpoint import load_checkpoint
from seqlabel.models.parts import freeze, part_names
from seqlabel.training import distributed
from seqlabel.training.state import Learner

log = logging.getLogger(__name__)

OUTPUT = ("output.weight", "output.bias")
# Feature keys that change the training data, not what the model reads: differences are not reported.
TRAIN_ONLY_FEATURES = ("cache_dir", "dither", "augment", "shear", "scale", "rotate", "elastic", "morph", "contrast",
                       "degrade", "jitter", "speed")


@dataclass(frozen=True)
class InitSource:
    """The checkpoint a fine-tuning run starts from."""

    path: Path
    sha256: str
    state: dict[str, Any]
    vocab: Vocab
    mode: str  # train.vocab_resize
    config: Config  # the checkpoint's own config (state["config"], parsed once)


def load_init(config: Config) -> Optional[InitSource]:
    """The checkpoint of ``train.init_from`` (None when unset), its unit checked against ``data``."""
    if not config.train.init_from:
        return None
    path = Path(config.train.init_from)
    state = load_checkpoint(path)
    try:
        vocab = Vocab.from_state(state["vocab"])
    except KeyError:
        raise CheckpointError(f"train.init_from {path}: no vocabulary in it; is it a seqlabel checkpoint?") from None
    if (vocab.unit, vocab.word_boundary) != (config.data.unit, config.data.word_boundary):
        raise ConfigError(f"train.init_from {path} outputs {vocab.unit} tokens (word boundary "
                          f"{vocab.word_boundary!r}), "
                          f"this config's data are {config.data.unit} (word boundary {config.data.word_boundary!r}); "
                          "set data.unit and data.word_boundary as the checkpoint's")
    try:
        theirs = stored_config(state["config"])
    except ConfigError as e:
        raise ConfigError(f"train.init_from {path}: its stored config: {e}") from None
    except KeyError:
        raise CheckpointError(f"train.init_from {path}: no config in it; is it a seqlabel checkpoint?") from None
    return InitSource(path, hashlib.sha256(path.read_bytes()).hexdigest(), state, vocab, config.train.vocab_resize,
                      theirs)


def resize_vocab(init: InitSource, data_vocab: Vocab) -> Vocab:
    """The run's vocabulary from the checkpoint's and the data's, by ``train.vocab_resize``."""
    known = set(init.vocab.tokens)
    missing = [t for t in data_vocab.tokens[1:] if t not in known]
    if init.mode == "new":
        return data_vocab
    if init.mode == "union":
        return Vocab(init.vocab.tokens[1:] + missing, init.vocab.unit, init.vocab.word_boundary)
    if missing:
        shown = " ".join(f"{t!r} (U+{ord(t):04X})" if len(t) == 1 else repr(t) for t in missing[:20])
        raise VocabError(f"train.init_from {init.path}: the training data hold {len(missing)} token(s) its model "
                         f"cannot output: {shown}{' ...' if len(missing) > 20 else ''}; set train.vocab_resize: union "
                         "(add them to the checkpoint's tokens) or new (the data's tokens only)")
    return init.vocab


def check_input_dim(init: InitSource, config: Config, input_dim: int) -> None:
    """Refuse features of another dimension than the checkpoint's model reads, naming the keys that differ."""
    theirs = init.state["input_dim"]
    if input_dim != theirs:
        differ = _differences(to_dict(init.config.features), to_dict(config.features), "features.")
        raise ConfigError(f"train.init_from {init.path}: its model reads {theirs}-dim features, this config's give "
                          f"{input_dim}-dim ({', '.join(differ) or 'same feature settings: another input'}); "
                          "use the checkpoint's features section")


def feature_notes(init: InitSource, config: Config) -> list[str]:
    """Feature settings that differ from the checkpoint's (besides augmentation and caching), to report."""
    return [d for d in _differences(to_dict(init.config.features), to_dict(config.features), "features.")
            if not set(d.split(" ")[0].split(".")) & set(TRAIN_ONLY_FEATURES)]  # features.augment.* too


def init_weights(model: BiLSTMCTC, init: Optional[InitSource], vocab: Vocab) -> None:
    """Copy the checkpoint's weights into ``model`` (built for this run's config and ``vocab``)."""
    if init is None:
        return
    _check_architecture(init, model.config)
    _, _, source = model_from_state(init.state, init.path)
    theirs = source.state_dict()
    old_ids = {t: i for i, t in enumerate(init.vocab.tokens)}
    kept = [(j, old_ids[t]) for j, t in enumerate(vocab.tokens) if t in old_ids]
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name not in OUTPUT:
                tensor.copy_(theirs[name])
        for name in OUTPUT:
            mine = model.state_dict()[name]
            for j, i in kept:
                mine[j].copy_(theirs[name][i])
    record = init_record(init, vocab)
    log.info(f"initialised from {init.path} (sha256 {init.sha256[:12]}...): {len(kept)} of {len(vocab)} output classes "
         f"kept (train.vocab_resize: {init.mode}); added {len(record['tokens_added'])} token(s)"
         + (f" {' '.join(record['tokens_added'][:20])}" if record["tokens_added"] else "")
         + f", dropped {len(record['tokens_dropped'])}")


def init_record(init: InitSource, vocab: Vocab) -> dict[str, Any]:
    """What every checkpoint of a fine-tuning run records about its start."""
    return {"path": str(init.path.resolve()), "sha256": init.sha256, "vocab_resize": init.mode,
            "tokens_added": [t for t in vocab.tokens if t not in init.vocab.tokens],
            "tokens_dropped": [t for t in init.vocab.tokens if t not in vocab.tokens]}


def _signature(config: ModelConfig) -> dict[str, Any]:
    """What fixes a model's weights and function (dropouts aside), as plain data."""
    blocks = [{k: v for k, v in asdict(b).items() if k != "dropout"} for b in config.conv_blocks]
    return {"num_layers": config.num_layers, "hidden_size": config.hidden_size,
            "projection_size": config.projection_size, "frame_stacking": config.frame_stacking,
            "subsampling": config.subsampling, "cnn_blocks": blocks, "cnn_output_norm": config.cnn_output_norm}


def _check_architecture(init: InitSource, config: ModelConfig) -> None:
    differ = _differences(_signature(init.config.model), _signature(config), "model.")
    if differ:
        raise ConfigError(f"train.init_from {init.path}: its model differs from this config's model section in "
                          f"{', '.join(differ)}; fine-tuning keeps the checkpoint's architecture: set those keys "
                          "as the checkpoint's (its config.yaml), dropouts may differ")


def _differences(theirs: dict[str, Any], ours: dict[str, Any], prefix: str) -> list[str]:
    """``key (checkpoint X, config Y)`` for each top-level or nested key whose values differ."""
    out = []
    for key in sorted(set(theirs) | set(ours)):
        a, b = theirs.get(key), ours.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} (checkpoint {a!r}, config {b!r})")
    return out


class FreezeSchedule:
    """``train.freeze`` for the first ``train.freeze_epochs`` epochs. What is frozen depends on the epoch
    alone, so a resumed run freezes exactly as the original did."""

    def __init__(self, config: TrainConfig) -> None:
        self.parts = tuple(config.freeze)
        self.epochs = config.freeze_epochs

    def on_epoch_start(self, epoch: int, learner: Learner) -> None:
        """Freeze or release the parts before ``epoch`` trains (every rank; the DDP wrapper is rebuilt
        when the set of trained weights changes, as DDP fixes it at construction)."""
        want = self.parts if epoch <= self.epochs else ()
        model = learner.model
        if want == model.frozen:
            return
        try:
            freeze(model, want)
        except KeyError as e:
            raise ConfigError(f"train.freeze: this model has no part {e.args[0]!r}; its parts: "
                              f"{', '.join(part_names(model))}") from None
        if not any(p.requires_grad for p in model.parameters()):
            raise ConfigError(f"train.freeze {list(want)} holds every part of the model: nothing would train; "
                              "leave at least one part out (e.g. output)")
        if distributed.world_size() > 1:
            device = next(model.parameters()).device
            learner.stepper = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[device] if device.type == "cuda" else None)
        log.info(f"epoch {epoch}: {', '.join(want)} frozen until the end of epoch {self.epochs} (train.freeze)" if want
             else f"epoch {epoch}: {', '.join(self.parts)} train again (train.freeze_epochs {self.epochs} done)")
