"""seqlabel.inference.export: exported TorchScript / ONNX models give the checkpoint's log-probs (atol 1e-5) on
raw padded features of several batch sizes and lengths, and greedy hypotheses decoded with only the
exported file and its token list (seqlabel not importable) equal the recognizer's."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from seqlabel.cli import main
from seqlabel.config import Config, ConvBlockConfig, FeatureConfig, ModelConfig, to_dict
from seqlabel.data.dataset import collate
from seqlabel.data.manifest import read_manifest
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError
from seqlabel.features.cmvn import CmvnStats
from seqlabel.inference.export import export, reverse_within, side_file
from seqlabel.inference.recognizer import Recognizer
from seqlabel.models.bilstm import build_model
from seqlabel.models.checkpoint import save_checkpoint

ATOL = 1e-5
F = 10
MODELS = {
    "plain": ModelConfig(num_layers=2, hidden_size=12),
    "stacked": ModelConfig(num_layers=3, hidden_size=8, frame_stacking=3, subsampling=2),
    "projection": ModelConfig(num_layers=2, hidden_size=12, projection_size=5),
    "cnn": ModelConfig(num_layers=1, hidden_size=8, cnn_channels=[3, 4], cnn_time_pool=2),
    "blocks": ModelConfig(num_layers=1, hidden_size=8, output_dropout=0.5, cnn_blocks=[
        ConvBlockConfig(3, [3, 5], 2, 2, True, "leakyrelu", 0.1), ConvBlockConfig(4, 3, 1, 3, True, "elu")]),
    "output_norm": ModelConfig(num_layers=1, hidden_size=8, cnn_output_norm="layer",
                               cnn_blocks=[ConvBlockConfig(3, 3, 2, 2, True, "relu")]),
}
SHAPES = [[1], [7, 3, 12], [5, 5, 1, 9, 2]]  # lengths of the items of each test batch
has_onnx = importlib.util.find_spec("onnx") is not None and importlib.util.find_spec("onnxruntime") is not None


def random_checkpoint(path: Path, model_config: ModelConfig, cmvn: str = "global", seed: int = 0) -> tuple[Path, torch.nn.Module, CmvnStats]:
    torch.manual_seed(seed)
    vocab = Vocab(list("abcdef"))
    model = build_model(F, len(vocab), model_config).eval()
    stats = CmvnStats(torch.randn(F), torch.rand(F) + 0.5)
    config = Config(features=FeatureConfig(cmvn=cmvn), model=model_config)
    save_checkpoint(path, {"config": to_dict(config), "vocab": vocab.state(), "input_dim": F,
                           "cmvn": stats.state(), "model": model.state_dict()})
    return path, model, stats


def reference(model: torch.nn.Module, stats: CmvnStats, raw: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The checkpoint's model on normalised, zero-padded features: what training and decoding see."""
    empty = torch.zeros(0, dtype=torch.long)
    batch = collate([(i, stats.apply(x), empty) for i, x in enumerate(raw)], [str(i) for i in range(len(raw))])
    with torch.no_grad():
        return model(batch.features, batch.feature_lengths)


def padded_raw(raw: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw features padded with junk (the exported model must ignore it) and their lengths."""
    lengths = torch.tensor([x.shape[0] for x in raw])
    out = torch.full((len(raw), int(lengths.max()), F), 7.5)
    for i, x in enumerate(raw):
        out[i, : x.shape[0]] = x
    return out, lengths


def run_exported(path: Path, fmt: str, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if fmt == "torchscript":
        module = torch.jit.load(str(path))
        with torch.no_grad():
            return module(features, lengths)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    log_probs, out_lengths = session.run(None, {"features": features.numpy(), "lengths": lengths.numpy()})
    return torch.from_numpy(log_probs), torch.from_numpy(out_lengths)


def test_reverse_within_reverses_real_frames_only() -> None:
    x = torch.arange(10.0).view(2, 5, 1)
    y = reverse_within(x, torch.tensor([3, 5]))
    assert y[:, :, 0].tolist() == [[2, 1, 0, 3, 4], [9, 8, 7, 6, 5]]
    assert torch.equal(reverse_within(y, torch.tensor([3, 5])), x)


@pytest.mark.parametrize("fmt", ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(
    not has_onnx, reason="onnx/onnxruntime not installed (pip install 'seqlabel[export]')"))])
@pytest.mark.parametrize("name", list(MODELS))
def test_exported_log_probs_equal_the_checkpoint(tmp_path: Path, fmt: str, name: str) -> None:
    checkpoint, model, stats = random_checkpoint(tmp_path / "ckpt.pt", MODELS[name])
    out = tmp_path / f"model.{fmt}"
    if fmt == "onnx" and MODELS[name].projection_size:
        with pytest.raises(ConfigError, match="projection"):
            export(checkpoint, out, fmt)
        return
    export(checkpoint, out, fmt)
    generator = torch.Generator().manual_seed(1)
    for lengths in SHAPES:
        raw = [3.0 * torch.randn(n, F, generator=generator) + 1.0 for n in lengths]
        expected, expected_lengths = reference(model, stats, raw)
        got, got_lengths = run_exported(out, fmt, *padded_raw(raw))
        assert torch.equal(got_lengths, expected_lengths)
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_side_files_and_card(tmp_path: Path) -> None:
    checkpoint, _, _ = random_checkpoint(tmp_path / "ckpt.pt", MODELS["stacked"])
    out = export(checkpoint, tmp_path / "m.pt")
    assert Vocab.load(side_file(out, "tokens.txt")) == Vocab(list("abcdef"))
    card = json.loads(side_file(out, "json").read_text())
    assert (card["input_dim"], card["num_classes"], card["blank"], card["format"]) == (F, 7, 0, "torchscript")
    assert card["frame_seconds"] == pytest.approx(0.02)


@pytest.mark.parametrize("cmvn", ["speaker", "utterance"])
def test_speaker_and_utterance_cmvn_cannot_be_folded(tmp_path: Path, cmvn: str) -> None:
    checkpoint, _, _ = random_checkpoint(tmp_path / "ckpt.pt", MODELS["plain"], cmvn=cmvn)
    with pytest.raises(ConfigError, match="features.cmvn: global"):
        export(checkpoint, tmp_path / "m.pt")


def test_cli_export_and_bad_checkpoint(tmp_path: Path) -> None:
    checkpoint, _, _ = random_checkpoint(tmp_path / "ckpt.pt", MODELS["plain"])
    result = CliRunner().invoke(main, ["export", str(checkpoint), "--out", str(tmp_path / "m.pt")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.pt").is_file() and side_file(tmp_path / "m.pt", "tokens.txt").is_file()
    result = CliRunner().invoke(main, ["export", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "x.pt")])
    assert result.exit_code == 1 and "checkpoint not found" in result.output


# Runs in a fresh interpreter in which seqlabel cannot be imported: the exported file, the token list
# and torch (or onnxruntime) are all a decode needs. Greedy: best class per frame, repeats merged, blanks dropped.
STANDALONE_DECODE = r"""
import json, sys
sys.modules["seqlabel"] = None
import numpy as np
model_path, fmt, feats_path = sys.argv[1:4]
tokens = open(model_path + ".tokens.txt", encoding="utf-8").read().splitlines()
data = np.load(feats_path)
features, lengths = data["features"], data["lengths"]
if fmt == "torchscript":
    import torch
    with torch.no_grad():
        outputs = torch.jit.load(model_path)(torch.from_numpy(features), torch.from_numpy(lengths))
    log_probs, out_lengths = (t.numpy() for t in outputs)
else:
    import onnxruntime
    log_probs, out_lengths = onnxruntime.InferenceSession(model_path).run(
        None, {"features": features, "lengths": lengths})
hyps = []
for lp, n in zip(log_probs, out_lengths):
    best = lp[:n].argmax(axis=1)
    hyps.append([tokens[c] for t, c in enumerate(best) if c != 0 and (t == 0 or c != best[t - 1])])
print(json.dumps(hyps))
"""


@pytest.mark.parametrize("fmt", ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(
    not has_onnx, reason="onnx/onnxruntime not installed (pip install 'seqlabel[export]')"))])
def test_standalone_greedy_decode_equals_the_recognizer(tmp_path: Path, phone_run: dict, fmt: str) -> None:
    recognizer = Recognizer.from_checkpoint(phone_run["checkpoint"], "cpu")
    utts = read_manifest(phone_run["dev"])
    expected = [list(h.tokens) for h in recognizer.transcribe(utts)]
    assert any(expected)  # a trained model: the comparison is not between empty outputs
    out = export(phone_run["checkpoint"], tmp_path / f"model.{fmt}", fmt)
    raw = [recognizer.extractor(u) for u in utts]  # raw features: CMVN is inside the exported model
    lengths = np.array([x.shape[0] for x in raw], dtype=np.int64)
    features = np.zeros((len(raw), lengths.max(), raw[0].shape[1]), dtype=np.float32)
    for i, x in enumerate(raw):
        features[i, : x.shape[0]] = x.numpy()
    np.savez(tmp_path / "feats.npz", features=features, lengths=lengths)
    script = tmp_path / "decode.py"
    script.write_text(STANDALONE_DECODE, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(out), fmt, str(tmp_path / "feats.npz")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected
