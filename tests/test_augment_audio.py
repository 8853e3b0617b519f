"""Speech augmentation as pure functions (seqlabel.augment.audio, seqlabel.augment.spec): each does
what its setting says, measured on the output: duration and pitch under speed perturbation, the
spectral slope of coloured noise, the SNR of a mix, the gain in dB, the widths of SpecAugment's masks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile
import torch

from seqlabel.augment.audio import NoiseFiles, WavePerturb, add_noise, apply_gain, coloured_noise, speed_perturb
from seqlabel.augment.spec import SpecAugment, freq_mask, time_mask, time_warp
from seqlabel.config import AudioAugmentConfig, FeatureConfig
from seqlabel.errors import ConfigError
from seqlabel.features.audio import AudioFeatures
from seqlabel.types import Utterance

RATE = 8000


def tone(freq: float, seconds: float = 1.0, rate: int = RATE) -> torch.Tensor:
    t = torch.arange(int(seconds * rate), dtype=torch.float64) / rate
    return (0.3 * torch.sin(2 * math.pi * freq * t)).float()


def peak_hz(wave: torch.Tensor, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(wave.numpy() * np.hanning(wave.numel())))
    return float(np.fft.rfftfreq(wave.numel(), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("factor", [0.9, 1.1, 0.8])
def test_speed_perturbation_changes_duration_and_pitch_by_the_factor(factor: float) -> None:
    wave = tone(500.0)
    fast = speed_perturb(wave, factor, RATE)
    assert abs(fast.numel() - wave.numel() / factor) <= 1  # samples
    assert peak_hz(fast) == pytest.approx(500.0 * factor, abs=2.0)  # pitch moves with the tempo (not a time stretch)
    features = AudioFeatures(FeatureConfig(type="fbank", sample_rate=RATE, num_bins=20))
    utt = Utterance("u", "u.wav", "a")
    frames, perturbed = (features.from_waveforms([w], [utt])[0].shape[0] for w in (wave, fast))
    assert abs(perturbed - frames / factor) <= 1  # within one frame
    assert speed_perturb(wave, 1.0, RATE) is wave


@pytest.mark.parametrize("slope", [0.0, 1.0, 2.0])
def test_coloured_noise_has_the_requested_spectral_slope_and_unit_rms(slope: float) -> None:
    noise = coloured_noise(1 << 16, slope, np.random.default_rng(0)).double().numpy()
    assert math.sqrt(np.mean(noise ** 2)) == pytest.approx(1.0, rel=1e-4)
    power = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(noise.size)
    band = (freqs > 0.001) & (freqs < 0.4)
    fitted = np.polyfit(np.log(freqs[band]), np.log(power[band]), 1)[0]
    assert fitted == pytest.approx(-slope, abs=0.1)


@pytest.mark.parametrize("snr", [0.0, 7.5, 20.0])
def test_noise_is_mixed_at_the_requested_snr(snr: float) -> None:
    speech = tone(300.0) + 0.1 * tone(1200.0)
    noise = coloured_noise(speech.numel(), 1.0, np.random.default_rng(1))
    mixed = add_noise(speech, noise, snr)
    added = (mixed - speech).double()
    measured = 10 * math.log10(float(speech.double().pow(2).sum()) / float(added.pow(2).sum()))
    assert measured == pytest.approx(snr, abs=1e-3)


@pytest.mark.parametrize("gain", [-6.0, 3.5])
def test_gain_changes_the_level_by_the_requested_db(gain: float) -> None:
    wave = tone(440.0)
    louder = apply_gain(wave, gain)
    assert 20 * math.log10(float(louder.norm() / wave.norm())) == pytest.approx(gain, abs=1e-4)


def test_wave_perturb_is_a_function_of_its_generator_and_draws_noise_with_its_probability() -> None:
    wave = tone(500.0, 0.5)
    config = AudioAugmentConfig(speed=[0.9, 1.0, 1.1], noise_prob=0.5, gain_db=6.0)
    perturb = WavePerturb.from_config(config, RATE)
    a, b = (perturb(wave, np.random.default_rng([3, 1, 7])) for _ in range(2))
    assert torch.equal(a, b)
    outs = [perturb(wave, np.random.default_rng([3, 1, i])) for i in range(40)]
    assert len({o.numel() for o in outs}) == 3  # the three speeds
    never = WavePerturb.from_config(AudioAugmentConfig(noise_prob=0.0, gain_db=0.0), RATE)
    assert never(wave, np.random.default_rng(0)) is wave  # nothing switched on: the same samples
    always = WavePerturb.from_config(AudioAugmentConfig(noise_prob=1.0, noise_snr=[10.0, 10.0]), RATE)
    noisy = always(wave, np.random.default_rng(0))
    assert 10 * math.log10(float(wave.pow(2).sum() / (noisy - wave).pow(2).sum())) == pytest.approx(10.0, abs=1e-3)


def test_speed_copies_take_the_factor_of_their_copy() -> None:
    wave = tone(500.0, 0.5)
    perturb = WavePerturb.from_config(AudioAugmentConfig(speed=[0.9, 1.0, 1.1], speed_copies=True), RATE)
    lengths = [perturb(wave, np.random.default_rng(0), copy).numel() for copy in range(3)]
    assert [abs(n - wave.numel() / f) <= 1 for n, f in zip(lengths, [0.9, 1.0, 1.1])] == [True] * 3


def test_noise_files_give_segments_of_the_recordings_and_are_checked_up_front(tmp_path) -> None:
    folder = tmp_path / "noise"
    folder.mkdir()
    ramp = (np.arange(3000) / 3000 - 0.5).astype(np.float32)  # a recognisable signal: each sample unique
    soundfile.write(str(folder / "ramp.wav"), ramp, RATE, subtype="FLOAT")
    files = NoiseFiles(folder, RATE)
    segment = files.segment(1000, np.random.default_rng(0)).numpy()
    start = int(np.argmin(np.abs(ramp - segment[0])))
    assert np.allclose(segment, ramp[start:start + 1000])  # a contiguous piece of the file
    long = files.segment(7000, np.random.default_rng(1))  # longer than the file: it repeats
    assert long.numel() == 7000
    with pytest.raises(ConfigError, match="features.augment.noise_dir: folder not found"):
        NoiseFiles(tmp_path / "missing", RATE)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="holds no audio files"):
        NoiseFiles(empty, RATE)
    (folder / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(ConfigError, match="features.augment.noise_dir: .*broken.wav"):
        NoiseFiles(folder, RATE)


def test_frequency_masks_cover_at_most_the_width_in_every_delta_block_and_reach_it() -> None:
    feats = torch.randn(50, 3 * 20) + 5.0  # statics + deltas + delta-deltas of 20 bins, never 0
    widths = []
    for seed in range(200):
        out = freq_mask(feats, 1, 6, np.random.default_rng(seed), blocks=3)
        masked = (out == 0).all(dim=0).view(3, 20)  # (blocks, bins) fully masked columns
        assert torch.equal(masked[0], masked[1]) and torch.equal(masked[0], masked[2])  # the same bins in each block
        assert torch.equal(out[:, ~masked.flatten()], feats[:, ~masked.flatten()])  # the rest untouched
        widths.append(int(masked[0].sum()))
    assert max(widths) == 6 and min(widths) == 0


def test_time_masks_are_bounded_by_their_width_and_the_fraction_of_the_utterance() -> None:
    feats = torch.randn(40, 8) + 5.0
    widths = [int((time_mask(feats, 1, 30, np.random.default_rng(s), fraction=0.2) == 0).all(dim=1).sum())
              for s in range(200)]
    assert max(widths) == 8  # 0.2 * 40 frames, not 30
    widths = [int((time_mask(feats, 1, 5, np.random.default_rng(s)) == 0).all(dim=1).sum()) for s in range(200)]
    assert max(widths) == 5


def test_time_warp_keeps_the_length_and_moves_the_frames() -> None:
    feats = torch.arange(60, dtype=torch.float32).unsqueeze(1).repeat(1, 4)  # (T, F): frame t holds t
    warped = [time_warp(feats, 5, np.random.default_rng(s)) for s in range(20)]
    assert all(w.shape == feats.shape for w in warped)
    assert any(not torch.allclose(w, feats) for w in warped)
    assert all(bool((w[1:, 0] >= w[:-1, 0] - 1e-5).all()) for w in warped)  # time still runs forward
    short = torch.randn(10, 4)
    assert torch.equal(time_warp(short, 5, np.random.default_rng(0)), short)  # T <= 2W: unchanged


def test_spec_augment_fills_masks_with_the_given_value_and_checks_its_width() -> None:
    config = AudioAugmentConfig(freq_masks=2, freq_width=3, time_masks=2, time_width=4)
    masks = SpecAugment.from_config(config, dim=20)
    feats = torch.randn(30, 20) + 5.0
    mean = feats.mean(dim=0)
    out = masks(feats, np.random.default_rng(4), value=mean)  # unnormalised features: each feature's mean
    changed = out != feats
    assert changed.any() and torch.allclose(out[changed], mean.expand_as(feats)[changed])
    with pytest.raises(ConfigError, match=r"freq_width \(20\) must be smaller than the 20 feature bins"):
        SpecAugment.from_config(AudioAugmentConfig(freq_masks=1, freq_width=20), dim=20)
