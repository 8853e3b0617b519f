"""The export card says how to compute the model's input features without seqlabel: a fresh
interpreter in which seqlabel cannot be imported reads the card, computes the features of a WAV with
torchaudio alone (resampling, Kaldi fbank/MFCC or log-mel, deltas), runs the exported model, and gets
the log-probs seqlabel's recognizer gives for that WAV (atol 1e-4)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from seqlabel.config import Config, FeatureConfig, ModelConfig, to_dict
from seqlabel.data.vocab import Vocab
from seqlabel.features import build_extractor
from seqlabel.features.cmvn import CmvnStats
from seqlabel.inference.export import export, side_file
from seqlabel.inference.recognizer import Recognizer
from seqlabel.models.bilstm import build_model
from seqlabel.models.checkpoint import save_checkpoint
from seqlabel.types import Utterance

ATOL = 1e-4
FEATURES = {  # (feature config, the WAV's own sample rate)
    "fbank+energy+deltas2, resampled": (FeatureConfig(type="fbank", sample_rate=8000, num_bins=20, energy=True,
                                                      deltas=2), 16000),
    "mfcc+deltas1": (FeatureConfig(type="mfcc", sample_rate=16000, num_bins=23, num_ceps=13, deltas=1), 16000),
    "logmel": (FeatureConfig(type="logmel", sample_rate=16000, num_bins=24), 16000),
    "fbank 20 ms window, 8 ms shift": (FeatureConfig(type="fbank", sample_rate=16000, num_bins=30, frame_length_ms=20,
                                         frame_shift_ms=8), 16000),
}

# The README's recipe (export paragraph), with the log-mel branch added.
STANDALONE = r"""
import json, sys
sys.modules["seqlabel"] = None
import numpy as np, soundfile, torch, torchaudio
model_path, wav_path, out_path = sys.argv[1:4]
spec = json.load(open(model_path + ".json"))["input_features"]
wave, rate = soundfile.read(wav_path, dtype="float32", always_2d=True)
wave = torch.from_numpy(wave[:, 0].copy())                      # first channel, in [-1, 1]
if rate != spec["audio"]["sample_rate"]:
    wave = torchaudio.functional.resample(wave, rate, spec["audio"]["sample_rate"])
if spec["function"] == "torchaudio.transforms.MelSpectrogram":
    mel = torchaudio.transforms.MelSpectrogram(**spec["kwargs"])(wave * spec["scale"])   # (F0, T)
    feats = torch.log(mel + spec["log_floor"]).T
else:
    compute = getattr(torchaudio.compliance.kaldi, spec["function"].rsplit(".", 1)[1])   # fbank or mfcc
    feats = compute((wave * spec["scale"]).unsqueeze(0), **spec["kwargs"])             # (T, F0)
parts = [feats]
for _ in range(spec["deltas"]["order"]):
    parts.append(torchaudio.functional.compute_deltas(parts[-1].T, win_length=spec["deltas"]["win_length"],
                                                      mode=spec["deltas"]["mode"]).T)
feats = torch.cat(parts, dim=1)                                   # (T, F): raw, the model applies the CMVN
model = torch.jit.load(model_path)
with torch.no_grad():
    log_probs, lengths = model(feats.unsqueeze(0), torch.tensor([feats.shape[0]]))
np.save(out_path, log_probs[0, : int(lengths[0])].numpy())
"""


def write_wav(path: Path, rate: int, seconds: float = 0.7) -> Path:
    """A chirp with noise and a silent start (the log energy floor and the DC removal matter)."""
    rng = np.random.default_rng(4)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * (200 + 900 * t) * t) + 0.02 * rng.standard_normal(t.size)
    wave[: rate // 20] = 0.0
    soundfile.write(str(path), wave, rate, subtype="PCM_16")
    return path


def checkpoint(path: Path, features: FeatureConfig) -> Path:
    torch.manual_seed(0)
    dim = build_extractor(features).dim
    vocab = Vocab(list("abcde"))
    model_config = ModelConfig(num_layers=2, hidden_size=10, frame_stacking=2, subsampling=2)
    model = build_model(dim, len(vocab), model_config).eval()
    stats = CmvnStats(3.0 * torch.randn(dim), torch.rand(dim) * 4.0 + 0.5)
    save_checkpoint(path, {"config": to_dict(Config(features=features, model=model_config)), "vocab": vocab.state(),
                           "input_dim": dim, "cmvn": stats.state(), "model": model.state_dict()})
    return path


@pytest.mark.parametrize("name", list(FEATURES))
def test_features_from_the_card_alone_give_seqlabels_log_probs(name: str, tmp_path: Path) -> None:
    features, rate = FEATURES[name]
    ckpt = checkpoint(tmp_path / "ckpt.pt", features)
    wav = write_wav(tmp_path / "utt.wav", rate)
    out = export(ckpt, tmp_path / "model.pt")
    card = json.loads(side_file(out, "json").read_text())
    assert card["input_features"]["standalone"] and card["input_features"]["type"] == features.type

    script = tmp_path / "standalone.py"
    script.write_text(STANDALONE, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(out), str(wav), str(tmp_path / "lp.npy")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = np.load(tmp_path / "lp.npy")
    (want,) = Recognizer.from_checkpoint(ckpt, "cpu").log_probs([Utterance("utt", str(wav), "a")])
    assert got.shape == want.shape and got.shape[0] > 10
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


def test_non_audio_features_are_said_to_need_seqlabel(tmp_path: Path) -> None:
    from seqlabel.features.standalone import input_features

    card = input_features(FeatureConfig(type="strokes"))
    assert card["standalone"] is False and "seqlabel" in card["note"]
