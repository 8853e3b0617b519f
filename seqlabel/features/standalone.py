"""The audio features of a config as plain torchaudio calls, for computing an exported model's
inputs without seqlabel (the ``input_features`` entry of the export card, ``seqlabel.inference.export``).

What ``AudioFeatures`` does, step by step, with every setting written out:

    wave, rate = soundfile.read(path, dtype="float32", always_2d=True); wave = wave[:, 0]   # first channel
    wave = torchaudio.functional.resample(wave, rate, sample_rate)      # only when rate != sample_rate
    static = FUNCTION((wave * scale).unsqueeze(0), **kwargs)             # (T, F0); kaldi: int16 range
    static = log(static + 1e-6).T                                        # logmel only (MelSpectrogram gives (F0, T))
    for each delta order: prev = compute_deltas(prev.T, win_length=5, mode="replicate").T
    features = cat([static, deltas...], dim=1)                           # (T, F0 * (1 + deltas)), raw

``KaldiFbank`` equals ``torchaudio.compliance.kaldi.fbank`` (tests/test_features.py) and
``add_deltas`` equals torchaudio's ``compute_deltas`` applied ``deltas`` times
(window 2 = ``win_length`` 5, edges replicated); tests/test_export.py checks the whole recipe.
"""
from __future__ import annotations

from typing import Any

from seqlabel.config import FeatureConfig
from seqlabel.features.audio import INT16_SCALE, LOGMEL_FLOOR, next_pow2
from seqlabel.features.common import DELTA_WINDOW
from seqlabel.features.fbank import LOW_FREQ, PREEMPHASIS

AUDIO_TYPES = ("fbank", "mfcc", "logmel")


def input_features(config: FeatureConfig) -> dict[str, Any]:
    """The torchaudio calls (names and every keyword) that give ``config``'s raw features, as plain
    data; for non-audio features only the type (they need seqlabel's extractor)."""
    if config.type not in AUDIO_TYPES:
        return {"type": config.type, "standalone": False,
                "note": f"features.type {config.type} has no torchaudio equivalent: compute them with seqlabel"}
    recipe: dict[str, Any] = {
        "type": config.type, "standalone": True,
        "audio": {"sample_rate": config.sample_rate, "channel": 0, "dtype": "float32 in [-1, 1]",
                  "resample": "torchaudio.functional.resample(wave, file_rate, sample_rate) when the rates differ"},
        "scale": INT16_SCALE if config.type in ("fbank", "mfcc") else 1.0,
        "deltas": {"order": config.deltas, "function": "torchaudio.functional.compute_deltas",
                   "win_length": 2 * DELTA_WINDOW + 1, "mode": "replicate", "axis": "time (last): transpose (T, F)"},
        "output": f"(T, {_static_dim(config)} * (1 + {config.deltas})) float32, raw: the model applies the CMVN",
    }
    if config.type == "logmel":
        win = int(round(config.sample_rate * config.frame_length_ms / 1000))
        recipe.update(function="torchaudio.transforms.MelSpectrogram", log_floor=LOGMEL_FLOOR,
                      kwargs={"sample_rate": config.sample_rate, "n_fft": next_pow2(win), "win_length": win,
                              "hop_length": int(round(config.sample_rate * config.frame_shift_ms / 1000)),
                              "n_mels": config.num_bins, "center": False})
        return recipe
    kwargs: dict[str, Any] = {
        "sample_frequency": float(config.sample_rate), "frame_length": config.frame_length_ms,
        "frame_shift": config.frame_shift_ms, "dither": config.dither, "num_mel_bins": config.num_bins,
        "use_energy": config.energy, "energy_floor": 1.0, "raw_energy": True, "preemphasis_coefficient": PREEMPHASIS,
        "remove_dc_offset": True, "window_type": "povey", "round_to_power_of_two": True, "snip_edges": True,
        "low_freq": LOW_FREQ, "high_freq": 0.0}
    if config.type == "mfcc":
        kwargs.update(num_ceps=config.num_ceps, cepstral_lifter=22.0)
    else:
        kwargs.update(use_log_fbank=True, use_power=True)
    recipe.update(function=f"torchaudio.compliance.kaldi.{config.type}", kwargs=kwargs)
    return recipe


def _static_dim(config: FeatureConfig) -> int:
    return {"fbank": config.num_bins + int(config.energy), "mfcc": config.num_ceps, "logmel": config.num_bins}[config.type]
