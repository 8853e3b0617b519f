"""Deployable models: a checkpoint -> one TorchScript or ONNX file that maps raw padded features to
log-probs, with the training CMVN folded in, plus the token list and a small JSON card beside it.

    features (B, T, F) raw (as the extractor gives them), lengths (B,) int64
      -> (features - mean) / std, frames past each length zeroed
      -> the model's CNN front end, frame stacking, BiLSTM stack, linear, log-softmax
      -> log-probs (B, T', C) float32, output lengths (B,) int64

The BiLSTM runs on padded frames as in ``seqlabel.models.bilstm.bilstm`` (the backward direction reads
each item reversed within its length), here with one one-way ``nn.LSTM`` per layer and direction
so that TorchScript and ONNX (its LSTM operator) can hold it. Outputs past each item's length are
zeroed before the output layer, as in ``BiLSTMCTC``; log-probs equal the checkpoint's model on
every frame up to float rounding.

A decode needs only torch (``torch.jit.load``) or onnxruntime, the exported file and
``<file>.tokens.txt`` (line k: token of class k, line 0 the blank). The card ``<file>.json`` names the
torchaudio calls, with every setting, that compute the raw audio features the model takes
(``input_features``, from ``seqlabel.features.standalone``).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from seqlabel.config import to_dict
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError
from seqlabel.features.cmvn import CmvnStats
from seqlabel.features.standalone import input_features
from seqlabel.inference.restore import model_from_state
from seqlabel.models.bilstm import BiLSTMCTC, reverse_within, stack_frames
from seqlabel.models.checkpoint import load_checkpoint
from seqlabel.models.frontend import mask_frames
from seqlabel.models.lengths import frame_seconds, output_lengths

FORMATS = ("torchscript", "onnx")
ONNX_OPSET = 17


class MaskedBiLSTMLayer(nn.Module):
    """One bidirectional LSTM layer on padded (B, T, D) inputs with lengths; two one-way LSTMs."""

    def __init__(self, forward_lstm: nn.LSTM, backward_lstm: nn.LSTM) -> None:
        super().__init__()
        self.forward_lstm = forward_lstm
        self.backward_lstm = backward_lstm

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D), lengths (B,) -> (B, T, 2H)."""
        ahead, _ = self.forward_lstm(x)  # (B, T, H)
        back, _ = self.backward_lstm(reverse_within(x, lengths))  # (B, T, H) in reversed time
        return torch.cat([ahead, reverse_within(back, lengths)], dim=2)


def split_lstm(lstm: nn.LSTM) -> list[MaskedBiLSTMLayer]:
    """The layers of a bidirectional ``nn.LSTM`` as one-way LSTM pairs holding copies of its weights."""
    layers = []
    for k in range(lstm.num_layers):
        pair = []
        for suffix in ("", "_reverse"):
            input_size = lstm.input_size if k == 0 else 2 * (lstm.proj_size or lstm.hidden_size)
            one = nn.LSTM(input_size, lstm.hidden_size, batch_first=True, proj_size=lstm.proj_size)
            with torch.no_grad():
                for name, _ in one.named_parameters():
                    getattr(one, name).copy_(getattr(lstm, name.replace("_l0", f"_l{k}") + suffix))
            pair.append(one)
        layers.append(MaskedBiLSTMLayer(*pair))
    return layers


class NoFrontEnd(nn.Module):
    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, lengths


class ExportableCTC(nn.Module):
    """CMVN + ``BiLSTMCTC`` without packed sequences: (B, T, F) raw, lengths (B,) -> (B, T', C), (B,)."""

    def __init__(self, model: BiLSTMCTC, cmvn: Optional[CmvnStats]) -> None:
        super().__init__()
        f = model.input_dim
        self.register_buffer("mean", cmvn.mean.clone() if cmvn else torch.zeros(f))
        self.register_buffer("std", cmvn.std.clone() if cmvn else torch.ones(f))
        self.front = model.cnn if model.cnn is not None else NoFrontEnd()
        self.stacking = model.config.frame_stacking
        self.subsampling = model.config.subsampling
        self.layers = nn.ModuleList(split_lstm(model.lstm))
        self.output = model.output

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = mask_frames((features - self.mean) / self.std, lengths, dim=1)  # (B, T, F), zero padding as in training
        x, lengths = self.front(x, lengths)  # (B, T1, F1)
        x = stack_frames(x, self.stacking, self.subsampling)  # (B, T', F')
        out_lengths = output_lengths(lengths, self.subsampling)
        for layer in self.layers:
            x = layer(x, out_lengths)  # (B, T', 2H)
        x = mask_frames(x, out_lengths, dim=1)
        return self.output(x).float().log_softmax(dim=-1), out_lengths  # (B, T', C)


def load_for_export(checkpoint: str | Path) -> tuple[ExportableCTC, Vocab, dict]:
    """The exportable module (eval mode, CPU), the vocabulary and the JSON card of a checkpoint."""
    state = load_checkpoint(checkpoint)
    config, vocab, model = model_from_state(state, checkpoint)
    if config.features.cmvn == "speaker":
        raise ConfigError(f"{checkpoint}: features.cmvn is 'speaker': per-speaker statistics come from each "
                          "speaker's other utterances and cannot be folded into an exported model; train with "
                          "features.cmvn: global (or none) to export")
    if config.features.cmvn == "utterance":
        raise ConfigError(f"{checkpoint}: features.cmvn is 'utterance': exported models take features normalised "
                          "with global statistics only; train with features.cmvn: global (or none) to export")
    cmvn = CmvnStats.from_state(state["cmvn"]) if state.get("cmvn") else None
    card = {"inputs": {"features": "(B, T, F) float32 raw features", "lengths": "(B,) int64"},
            "outputs": {"log_probs": "(B, T', C) float32", "out_lengths": "(B,) int64"},
            "input_dim": state["input_dim"], "num_classes": len(vocab), "blank": 0, "unit": vocab.unit,
            "word_boundary": vocab.word_boundary, "frame_seconds": frame_seconds(config),
            "features": to_dict(config.features), "input_features": input_features(config.features)}
    return ExportableCTC(model.eval(), cmvn).eval(), vocab, card


def export(checkpoint: str | Path, out: str | Path, format: str = "torchscript") -> Path:
    """Write ``out`` (TorchScript or ONNX), ``<out>.tokens.txt`` and ``<out>.json``; returns ``out``."""
    if format not in FORMATS:
        raise ConfigError(f"export format must be one of {list(FORMATS)}, got {format!r}")
    module, vocab, card = load_for_export(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit: the only format that holds nn.LSTM
            torch.jit.save(torch.jit.script(module), str(out))
    else:
        _export_onnx(module, card["input_dim"], out)
    vocab.save(side_file(out, "tokens.txt"))
    side_file(out, "json").write_text(json.dumps({**card, "format": format}, indent=1) + "\n", encoding="utf-8")
    return out


def side_file(out: str | Path, suffix: str) -> Path:
    """``model.onnx`` -> ``model.onnx.<suffix>``: the files written beside an exported model."""
    out = Path(out)
    return out.with_name(f"{out.name}.{suffix}")


def _export_onnx(module: ExportableCTC, input_dim: int, out: Path) -> None:
    """torch.onnx's TorchScript-based exporter (``dynamo=False``): the dynamo exporter of torch 2.11
    cannot export ``nn.LSTM`` (unbacked symbolic sizes), the TorchScript one maps it to ONNX LSTM."""
    if any(layer.forward_lstm.proj_size for layer in module.layers):
        raise ConfigError("ONNX's LSTM operator has no projection (model.projection_size > 0): "
                          "export with --format torchscript instead")
    try:
        import onnx  # noqa: F401  (torch.onnx needs it)
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'seqlabel[export]'") from None
    example = (torch.zeros(2, 7, input_dim), torch.tensor([7, 5]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notice of the TorchScript-based exporter, tracer notes
        torch.onnx.export(module, example, str(out), input_names=["features", "lengths"],
                          output_names=["log_probs", "out_lengths"], opset_version=ONNX_OPSET, dynamo=False,
                          dynamic_axes={"features": {0: "B", 1: "T"}, "lengths": {0: "B"},
                                        "log_probs": {0: "B", 1: "T_out"}, "out_lengths": {0: "B"}})
