"""seqlabel.features and seqlabel.data.dataset: extractor dims, deltas, Kaldi compatibility, resampling,
bad audio, precomputed features, CMVN, and "a batch equals its items"."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi
from helpers import utt

from seqlabel.config import FeatureConfig
from seqlabel.data.dataset import SequenceDataset, Split, collate, load_split, normalize
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, DataError
from seqlabel.features import build_extractor
from seqlabel.features.cmvn import compute_stats, normalize_per_speaker, normalize_per_utterance
from seqlabel.features.common import add_deltas
from seqlabel.features.fbank import KaldiFbank
from seqlabel.types import Utterance


def noise_wav(path: Path, seconds: float = 0.3, rate: int = 16000, seed: int = 0, channels: int = 1) -> Path:
    """Band-limited-ish noise plus a tone, written as 16-bit PCM."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    mono = 0.3 * np.sin(2 * np.pi * (300 + 100 * seed) * t) + 0.05 * rng.standard_normal(n)
    data = np.stack([mono, 0.5 * rng.standard_normal(n)], axis=1) if channels == 2 else mono
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), data, rate, subtype="PCM_16")
    return path


# ----------------------------------------------------------------------------- dims
@pytest.mark.parametrize(
    "options, dim",
    [
        ({"type": "fbank", "num_bins": 23}, 23),
        ({"type": "fbank", "num_bins": 23, "energy": True}, 24),
        ({"type": "fbank", "num_bins": 23, "energy": True, "deltas": 2}, 72),
        ({"type": "mfcc", "num_bins": 23, "num_ceps": 13}, 13),
        ({"type": "mfcc", "num_bins": 23, "num_ceps": 13, "deltas": 1}, 26),
        ({"type": "mfcc", "num_bins": 23, "num_ceps": 13, "energy": True, "deltas": 2}, 39),
        ({"type": "logmel", "num_bins": 40}, 40),
        ({"type": "logmel", "num_bins": 40, "deltas": 2}, 120),
    ],
)
def test_feature_dims(tmp_path: Path, options: dict, dim: int) -> None:
    extractor = build_extractor(FeatureConfig(**options))
    assert extractor.dim == dim
    feats = extractor(utt(noise_wav(tmp_path / "a.wav", 0.3)))
    assert feats.dtype == torch.float32 and feats.shape[1] == dim
    # 25 ms windows every 10 ms over 0.3 s: 1 + (300 - 25) // 10 = 28 frames (Kaldi snip-edges);
    # logmel's FFT span (512 samples > 400) may cost it the last frame
    assert feats.shape[0] == 28 or (options["type"] == "logmel" and feats.shape[0] == 27)
    assert torch.isfinite(feats).all()


def test_logmel_with_energy_is_refused() -> None:
    with pytest.raises(ConfigError, match="energy"):
        build_extractor(FeatureConfig(type="logmel", energy=True))


# ----------------------------------------------------------------------------- deltas
@pytest.mark.parametrize("order", [1, 2])
def test_deltas_equal_torchaudio_compute_deltas(order: int) -> None:
    feats = torch.randn(37, 5, generator=torch.Generator().manual_seed(order))
    expected = [feats]
    for _ in range(order):
        expected.append(torchaudio.functional.compute_deltas(expected[-1].T, win_length=5).T)  # works on (F, T)
    torch.testing.assert_close(add_deltas(feats, order), torch.cat(expected, dim=1), rtol=1e-5, atol=1e-5)


def test_deltas_of_a_ramp_and_a_constant() -> None:
    ramp = torch.arange(20, dtype=torch.float32).unsqueeze(1)  # slope 1
    d = add_deltas(ramp, 1)[:, 1]
    assert torch.allclose(d[2:-2], torch.ones(16))  # away from the replicated edges
    assert torch.equal(add_deltas(torch.full((6, 3), 4.0), 2)[:, 3:], torch.zeros(6, 6))
    assert torch.equal(add_deltas(ramp, 0), ramp)


# ----------------------------------------------------------------------------- Kaldi compatibility
@pytest.mark.parametrize("energy", [False, True])
def test_fbank_equals_kaldi_on_int16_waveform(tmp_path: Path, energy: bool) -> None:
    path = noise_wav(tmp_path / "a.wav", 0.4, 16000, seed=3)
    ints, rate = soundfile.read(str(path), dtype="int16")
    wave = torch.from_numpy(ints.astype(np.float32)).unsqueeze(0)  # (1, N) as Kaldi reads a wav
    expected = kaldi.fbank(wave, sample_frequency=rate, num_mel_bins=23, use_energy=energy, dither=0.0)
    got = build_extractor(FeatureConfig(type="fbank", num_bins=23, energy=energy))(utt(path))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rate, bins, energy", [(8000, 23, False), (16000, 40, True), (16000, 80, False)])
def test_cached_fbank_equals_torchaudio_kaldi_at_every_length(rate: int, bins: int, energy: bool) -> None:
    fbank = KaldiFbank(rate, bins, use_energy=energy)
    window = int(rate * 0.025)
    g = torch.Generator().manual_seed(rate + bins)
    waves = [torch.randn(n, generator=g) * 3000 for n in (window, window + 1, window + 79, 12345)]
    waves += [torch.zeros(4000), torch.full((4000,), 7.0)]  # the log floors: silence, pure DC
    for wave in waves:
        expected = kaldi.fbank(wave.unsqueeze(0), sample_frequency=rate, num_mel_bins=bins, use_energy=energy,
                               dither=0.0)
        torch.testing.assert_close(fbank(wave), expected, rtol=1e-5, atol=1e-4)
    assert fbank(torch.zeros(window - 1)).shape == (0, bins + int(energy))


@pytest.mark.parametrize("deltas", [0, 2])
def test_batched_extraction_equals_one_utterance_at_a_time(tmp_path: Path, deltas: int) -> None:
    seconds = [0.03, 0.4, 2.5, 6.0, 0.2, 0.05]  # groups of several short files and a long one alone
    utts = [utt(noise_wav(tmp_path / f"{i}.wav", s, 8000, seed=i), f"u{i}") for i, s in enumerate(seconds)]
    extractor = build_extractor(FeatureConfig(type="fbank", sample_rate=8000, energy=True, deltas=deltas))
    together = extractor.many(utts)
    assert [f.shape[0] for f in together] == [1 + (int(s * 8000) - 200) // 80 for s in seconds]
    for u, f in zip(utts, together):
        torch.testing.assert_close(f, extractor(u), rtol=1e-6, atol=1e-5)
    short = utt(noise_wav(tmp_path / "short.wav", 0.02, 8000), "tiny")
    with pytest.raises(DataError, match="'tiny'.*too short"):
        extractor.many(utts[:2] + [short])


def test_mfcc_equals_kaldi_on_int16_waveform(tmp_path: Path) -> None:
    path = noise_wav(tmp_path / "a.wav", 0.4, 8000, seed=4)
    ints, rate = soundfile.read(str(path), dtype="int16")
    wave = torch.from_numpy(ints.astype(np.float32)).unsqueeze(0)
    expected = kaldi.mfcc(wave, sample_frequency=rate, num_mel_bins=20, num_ceps=13, dither=0.0)
    got = build_extractor(FeatureConfig(type="mfcc", sample_rate=8000, num_bins=20))(utt(path))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_first_channel_and_segments(tmp_path: Path) -> None:
    stereo = noise_wav(tmp_path / "st.wav", 0.5, 16000, seed=5, channels=2)
    data, rate = soundfile.read(str(stereo), dtype="int16")
    soundfile.write(str(tmp_path / "left.wav"), data[:, 0], rate, subtype="PCM_16")
    soundfile.write(str(tmp_path / "cut.wav"), data[1600:6400, 0], rate, subtype="PCM_16")  # 0.1 s .. 0.4 s
    extractor = build_extractor(FeatureConfig(num_bins=23))
    torch.testing.assert_close(extractor(utt(stereo)), extractor(utt(tmp_path / "left.wav")))
    segment = extractor(utt(stereo, start=0.1, end=0.4))
    torch.testing.assert_close(segment, extractor(utt(tmp_path / "cut.wav")))
    with pytest.raises(DataError, match="'u1'.*past the end"):
        extractor(utt(stereo, start=0.1, end=0.9))
    torch.testing.assert_close(extractor(utt(stereo, start=0.1, end=0.55)), extractor(utt(stereo, start=0.1)))


# ----------------------------------------------------------------------------- resampling
def test_resampled_8k_gives_frames_of_16k(tmp_path: Path) -> None:
    rate_lo, rate_hi, n = 8000, 16000, 2400  # 0.3 s
    t = np.arange(n) / rate_lo
    signal = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1900 * t)
    soundfile.write(str(tmp_path / "lo.wav"), signal, rate_lo, subtype="PCM_16")
    stored, _ = soundfile.read(str(tmp_path / "lo.wav"), dtype="float32")
    hi = torchaudio.functional.resample(torch.from_numpy(stored), rate_lo, rate_hi).numpy()
    soundfile.write(str(tmp_path / "hi.wav"), hi, rate_hi, subtype="FLOAT")  # the 16 kHz version, unquantised
    extractor = build_extractor(FeatureConfig(sample_rate=16000, num_bins=23))
    lo_feats = extractor(utt(tmp_path / "lo.wav"))
    hi_feats = extractor(utt(tmp_path / "hi.wav"))
    assert lo_feats.shape == hi_feats.shape == (1 + (300 - 25) // 10, 23)
    torch.testing.assert_close(lo_feats, hi_feats, rtol=1e-4, atol=1e-3)  # the content agrees too


def test_no_resample_names_file_and_rates(tmp_path: Path) -> None:
    path = noise_wav(tmp_path / "lo.wav", 0.2, 8000)
    with pytest.raises(DataError) as info:
        build_extractor(FeatureConfig(sample_rate=16000, resample=False))(utt(path, "utt-8k"))
    message = str(info.value)
    assert "'utt-8k'" in message and str(path) in message and "8000" in message and "16000" in message


# ----------------------------------------------------------------------------- bad audio
@pytest.fixture
def fbank() -> object:
    return build_extractor(FeatureConfig(num_bins=23))


def test_missing_file(tmp_path: Path, fbank) -> None:
    with pytest.raises(DataError) as info:
        fbank(utt(tmp_path / "gone.wav", "u-missing"))
    assert "'u-missing'" in str(info.value) and "gone.wav" in str(info.value)


def test_corrupt_file(tmp_path: Path, fbank) -> None:
    path = tmp_path / "junk.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(DataError) as info:
        fbank(utt(path, "u-junk"))
    assert "'u-junk'" in str(info.value) and "junk.wav" in str(info.value)


def test_truncated_header(tmp_path: Path, fbank) -> None:
    full = noise_wav(tmp_path / "full.wav", 0.2).read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(full[:20])
    with pytest.raises(DataError, match="'u-cut'.*cut.wav"):
        fbank(utt(path, "u-cut"))


def test_zero_length_wav(tmp_path: Path, fbank) -> None:
    path = tmp_path / "empty.wav"
    soundfile.write(str(path), np.zeros(0), 16000, subtype="PCM_16")
    with pytest.raises(DataError, match="'u-empty'.*empty.wav"):
        fbank(utt(path, "u-empty"))


@pytest.mark.parametrize("kind", ["fbank", "mfcc", "logmel"])
def test_too_short_wav(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "short.wav"
    soundfile.write(str(path), 0.1 * np.ones(100), 16000, subtype="PCM_16")  # 6 ms < one 25 ms frame
    with pytest.raises(DataError, match="'u-short'.*short.wav"):
        build_extractor(FeatureConfig(type=kind, num_bins=23))(utt(path, "u-short"))


# ----------------------------------------------------------------------------- CMVN
def test_global_cmvn_gives_zero_mean_unit_variance() -> None:
    g = torch.Generator().manual_seed(0)
    feats = [3.0 + 2.0 * torch.randn(n, 6, generator=g) * torch.arange(1, 7) for n in (10, 25, 7, 40)]
    stats = compute_stats(feats)
    normed = torch.cat([stats.apply(f) for f in feats])
    torch.testing.assert_close(normed.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(normed.std(0, unbiased=False), torch.ones(6), atol=1e-4, rtol=0)


def test_cmvn_constant_dimension_is_floored() -> None:
    feats = [torch.cat([torch.full((5, 1), 2.0), torch.randn(5, 1)], dim=1)]
    normed = compute_stats(feats).apply(feats[0])
    assert torch.isfinite(normed).all() and torch.equal(normed[:, 0], torch.zeros(5))


def test_per_utterance_cmvn_uses_each_utterances_own_stats() -> None:
    g = torch.Generator().manual_seed(2)
    utts = [Utterance(f"u{i}", "x", "a", speaker="same") for i in range(3)]
    feats = [float(5 * i) + (1 + i) * torch.randn(10 + 4 * i, 3, generator=g) for i in range(3)]
    out = normalize_per_utterance(feats)
    for f, o in zip(feats, out):
        torch.testing.assert_close(o.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
        torch.testing.assert_close(o.std(0, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)
        torch.testing.assert_close(o, compute_stats([f]).apply(f))
    for a, b in zip(normalize(Split(utts, feats, [[] for _ in utts]), "utterance", None), out):
        assert torch.equal(a, b)  # one speaker, yet each utterance by itself


def test_per_speaker_cmvn_uses_each_speakers_stats() -> None:
    g = torch.Generator().manual_seed(1)
    utts = [Utterance(f"u{i}", "x", "a", speaker=s) for i, s in enumerate(["a", "b", "a", "b", "c"])]
    offsets = {"a": -5.0, "b": 10.0, "c": 0.0}
    scales = {"a": 0.5, "b": 3.0, "c": 1.0}
    feats = [offsets[u.speaker] + scales[u.speaker] * torch.randn(12 + 3 * i, 4, generator=g)
             for i, u in enumerate(utts)]
    out = normalize_per_speaker(utts, feats)
    for speaker in "abc":
        rows = [i for i, u in enumerate(utts) if u.speaker == speaker]
        joined = torch.cat([out[i] for i in rows])
        torch.testing.assert_close(joined.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
        torch.testing.assert_close(joined.std(0, unbiased=False), torch.ones(4), atol=1e-4, rtol=0)
        own = compute_stats([feats[i] for i in rows])  # the speaker's own stats, nobody else's
        for i in rows:
            torch.testing.assert_close(out[i], own.apply(feats[i]))
    assert len(out) == len(feats) and feats[0] is not out[0]  # input list untouched
    split = Split(utts, feats, [[] for _ in utts])
    for a, b in zip(normalize(split, "speaker", None), out):
        assert torch.equal(a, b)
    assert normalize(split, "none", None) is feats


# ----------------------------------------------------------------------------- batches
def test_features_of_a_batch_equal_features_of_each_item(tmp_path: Path) -> None:
    extractor = build_extractor(FeatureConfig(num_bins=23, deltas=1))
    utts = [Utterance(f"s{i % 2}-u{i}", str(noise_wav(tmp_path / f"{i}.wav", 0.1 + 0.07 * i, seed=i)),
                      ["ab", "b a", "aab", "a"][i]) for i in range(4)]
    vocab = Vocab.build(u.text for u in utts)
    split = load_split(utts, extractor, vocab, progress=False)
    stats = compute_stats(split.features)
    dataset = SequenceDataset(split, normalize(split, "global", stats))
    order = [2, 0, 3, 1]  # not sorted by length
    batch = dataset.collate([dataset[i] for i in order])
    assert batch.ids == [utts[i].id for i in order]
    assert batch.features.shape == (4, max(split.lengths), 46)
    for row, i in enumerate(order):
        alone = stats.apply(extractor(utts[i]))  # the item processed on its own
        n = alone.shape[0]
        assert int(batch.feature_lengths[row]) == n
        torch.testing.assert_close(batch.features[row, :n], alone)
        assert torch.equal(batch.features[row, n:], torch.zeros_like(batch.features[row, n:]))
        target = torch.tensor(vocab.encode(utts[i].text))
        assert int(batch.target_lengths[row]) == len(target)
        assert torch.equal(batch.targets[row, : len(target)], target)
        assert not batch.targets[row, len(target):].any()  # padded with blank


def test_collate_without_targets() -> None:
    empty = torch.zeros(0, dtype=torch.long)
    batch = collate([(0, torch.ones(3, 2), empty), (1, torch.ones(5, 2), empty)], ["a", "b"])
    assert batch.targets.shape == (2, 0) and batch.target_lengths.tolist() == [0, 0]
    assert batch.feature_lengths.tolist() == [3, 5] and len(batch) == 2


def test_load_split_checks_transcripts_before_audio(tmp_path: Path) -> None:
    vocab = Vocab(["a"])
    utts = [Utterance("u-bad", str(tmp_path / "missing.wav"), "ab")]
    with pytest.raises(DataError, match="'u-bad'.*'b'"):
        load_split(utts, build_extractor(FeatureConfig()), vocab, progress=False)
    with pytest.raises(DataError, match="'u-empty'.*empty transcript"):
        load_split([Utterance("u-empty", str(tmp_path / "x.wav"), "  ")], build_extractor(FeatureConfig()), vocab,
                   progress=False)


def test_logmel_audio_shorter_than_its_fft_is_a_data_error_or_works(tmp_path: Path) -> None:
    """450 samples hold one 25 ms (400-sample) frame but are shorter than logmel's 512-point FFT."""
    path = tmp_path / "short.wav"
    soundfile.write(str(path), 0.1 * np.sin(np.arange(450)), 16000, subtype="PCM_16")
    assert build_extractor(FeatureConfig(num_bins=23))(utt(path)).shape[0] == 1  # Kaldi fbank: one frame
    try:
        feats = build_extractor(FeatureConfig(type="logmel", num_bins=23))(utt(path, "u-short"))
    except DataError as e:
        assert "'u-short'" in str(e)
    else:
        assert feats.shape[0] >= 1 and torch.isfinite(feats).all()


def test_cmvn_floors_near_constant_dimensions_relative_to_the_others() -> None:
    from seqlabel.features.cmvn import compute_stats

    x = torch.randn(500, 3)
    x[:, 2] = 0.0  # a dimension that never varies in training (an image row never inked)
    stats = compute_stats([x])
    assert float(stats.std[2]) >= 0.05 * float(stats.std[:2].sum()) / 3 * 0.99
    unseen = torch.zeros(1, 3)
    unseen[0, 2] = 1.0
    assert float(stats.apply(unseen).abs().max()) < 100.0
