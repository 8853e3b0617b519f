"""Inputs out of any sane range, and YAML that silently loses a value (issue 13): a key given twice, a
negative data.max_duration, max_duration with utterances of no known duration, a WAV declaring 1 Hz,
more mel filters than the FFT can fill, a 182-megapixel image, a model too large for memory. Each case
asserts the error type and that the message names the culprit (file, key, value) and the fix."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml
from bad_input import RATE, Base, Row, check_case, config_data, ids, npy_corpus, train_on, write_manifest, write_yaml
from test_bad_input_data import AUDIO, wav_rows

from seqlabel import api
from seqlabel.errors import ConfigError, DataError


# ----------------------------------------------------------------------------- YAML that loses a value
def yaml_duplicate_key(tmp: Path, base: Base) -> None:
    text = yaml.safe_dump(base.config, sort_keys=False).replace("  max_epochs: 1\n", "  lr: 0.01\n  max_epochs: 1\n"
                                                                "  lr: 0.5\n")
    (tmp / "c.yaml").write_text(text)
    api.train(tmp / "c.yaml", tmp / "exp", echo=lambda _: None)


def yaml_duplicate_section(tmp: Path, base: Base) -> None:
    text = yaml.safe_dump(base.config, sort_keys=False) + "model:\n  hidden_size: 8\n"
    (tmp / "c.yaml").write_text(text)
    api.train(tmp / "c.yaml", tmp / "exp", echo=lambda _: None)


def yaml_negative_max_duration(tmp: Path, base: Base) -> None:
    train_on(tmp, npy_corpus(tmp), data={"max_duration": -5})


def max_duration_without_durations(tmp: Path, base: Base) -> None:
    """.npy features have no duration to read: max_duration could drop nothing."""
    train_on(tmp, npy_corpus(tmp), data={"max_duration": 0.2})


# ----------------------------------------------------------------------------- implausible audio
def wav_rate_one_hertz(tmp: Path, base: Base) -> None:
    def one_hertz(path: Path) -> None:
        soundfile.write(str(path), np.zeros(2400), 1, subtype="PCM_16")
    train_on(tmp, wav_rows(tmp, one_hertz), features=AUDIO)


def wav_rate_too_high(tmp: Path, base: Base) -> None:
    def fast(path: Path) -> None:
        soundfile.write(str(path), np.zeros(2400), 1_000_000, subtype="PCM_16")
    train_on(tmp, wav_rows(tmp, fast), features=AUDIO)


def yaml_sample_rate_implausible(tmp: Path, base: Base) -> None:
    train_on(tmp, wav_rows(tmp), features={**AUDIO, "sample_rate": 80})


def yaml_too_many_mel_bins(tmp: Path, base: Base) -> None:
    train_on(tmp, wav_rows(tmp), features={**AUDIO, "num_bins": 2000})


def yaml_too_many_logmel_bins(tmp: Path, base: Base) -> None:
    train_on(tmp, wav_rows(tmp), features={**AUDIO, "type": "logmel", "num_bins": 100})


def yaml_more_cepstra_than_bins(tmp: Path, base: Base) -> None:
    train_on(tmp, wav_rows(tmp), features={**AUDIO, "type": "mfcc", "num_bins": 10, "num_ceps": 13})


# ----------------------------------------------------------------------------- too large
def png_of_size(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares ``width`` x ``height`` 1-bit pixels (its data is cut short: only the
    header is read before the size is refused)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def image_decompression_bomb(tmp: Path, base: Base) -> None:
    png_of_size(tmp / "page.png", 20000, 9100)  # 182 megapixels
    train_on(tmp, [{"id": "line0", "source": "page.png", "text": "ab"}], features="image")


def yaml_model_too_large(tmp: Path, base: Base) -> None:
    try:
        train_on(tmp, npy_corpus(tmp), model={"hidden_size": 100000})
    finally:
        assert not (tmp / "exp").exists(), "a refused run left its folder behind"


# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[Row] = [
    (yaml_duplicate_key, ConfigError, ("{tmp}/c.yaml", "key 'lr' is given twice, on line", "keep one of them")),
    (yaml_duplicate_section, ConfigError, ("{tmp}/c.yaml", "key 'model' is given twice", "on line 1", "keep one")),
    (yaml_negative_max_duration, ConfigError, ("{tmp}/c.yaml", "data.max_duration", "must be > 0, got -5",
                                               "null keeps every utterance")),
    (max_duration_without_durations, DataError, ("data.max_duration (0.2s)", "6 of 6 utterances of {tmp}/train.jsonl",
                                                 "'u0'", "add `duration` (seconds) to the manifest")),
    (wav_rate_one_hertz, DataError, ("'u1'", "{tmp}/u1.wav", "sample rate of 1 Hz", "1000-384000 Hz",
                                     "write the file again")),
    (wav_rate_too_high, DataError, ("'u1'", "{tmp}/u1.wav", "sample rate of 1000000 Hz")),
    (yaml_sample_rate_implausible, ConfigError, ("{tmp}/c.yaml", "features.sample_rate 80 Hz", "1000-384000")),
    (yaml_too_many_mel_bins, ConfigError, ("{tmp}/c.yaml", "features.num_bins 2000", f"{RATE} Hz",
                                           "use features.num_bins <= 95")),
    (yaml_too_many_logmel_bins, ConfigError, ("features.num_bins 100", "use features.num_bins <= 86")),
    (yaml_more_cepstra_than_bins, ConfigError, ("features.num_ceps (13) must be <= features.num_bins (10)",)),
    (image_decompression_bomb, DataError, ("line0", "{tmp}/page.png", "182,000,000 pixels", "scale it down")),
    (yaml_model_too_large, ConfigError, ("model.hidden_size 100000", "weights", "GiB", "lower model.hidden_size")),
]


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)


def test_max_duration_reads_durations_from_audio_headers(tmp_path: Path) -> None:
    """Utterances without a `duration` field are measured, not kept whatever their length."""
    rows = wav_rows(tmp_path, seconds=0.3)
    soundfile.write(str(tmp_path / "long.wav"), np.zeros(int(2.0 * RATE)), RATE, subtype="PCM_16")
    rows.append({"id": "long", "source": "long.wav", "text": "ab"})
    messages: list[str] = []
    config = config_data(write_manifest(tmp_path / "train.jsonl", rows), features=AUDIO, data={"max_duration": 1.0})
    api.train(write_yaml(tmp_path / "c.yaml", config), tmp_path / "exp", echo=messages.append)
    assert "dropped 1 training utterance(s) longer than 1.0s (data.max_duration)" in messages
    assert any("4 utterance(s) without a `duration` field were read from their audio headers" in m for m in messages)


def test_mel_bins_at_the_limit_are_accepted() -> None:
    """The limit the message names is the real one: 95 filters at 8 kHz give no constant feature, 96 do."""
    import torch

    from seqlabel.config import FeatureConfig
    from seqlabel.features import build_extractor
    from seqlabel.types import Utterance

    noise = torch.from_numpy(np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1)
    extractor = build_extractor(FeatureConfig(type="fbank", sample_rate=RATE, num_bins=95))
    feats = extractor.from_waveforms([noise], [Utterance("noise", "<in memory>", "")])[0]
    assert feats.shape[1] == 95 and bool((feats.std(dim=0) > 0).all())
    with pytest.raises(ConfigError, match="use features.num_bins <= 95"):
        FeatureConfig(type="fbank", sample_rate=RATE, num_bins=96)
