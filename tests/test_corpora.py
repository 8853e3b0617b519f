"""Corpus recipes (corpora/): discovery, transcripts, speaker-disjoint splits, planted faults.

Fixture corpora are built in tmp_path (tiny sine WAVs, fake big-endian .mfc files, transcripts in
the real formats). Tests on the real corpora under ``shared_data`` skip when they are absent.
"""
from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Iterable

import numpy as np
import pytest
import soundfile
import torch
from seqlabel.corpora import run_recipe
from seqlabel.corpora.common import carve_by_speaker, parse_speakers, preview

from seqlabel.data.manifest import read_manifest
from seqlabel.errors import ConfigError, DataError
from seqlabel.types import Utterance


# ----------------------------------------------------------------------------- fixture builders
def write_wav(path: Path, seconds: float = 0.05, rate: int = 16000) -> Path:
    """A short sine tone (any suffix soundfile knows: .wav, .flac)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), 0.1 * np.sin(2 * np.pi * 440 * t), rate)
    return path


def write_mfc(path: Path, frames: int, header: int | None = None) -> Path:
    """A Sphinx cepstrum file: big-endian int32 float count, then big-endian float32s."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = frames * 13
    values = np.linspace(-1, 1, count, dtype=">f4")
    path.write_bytes(struct.pack(">i", count if header is None else header) + values.tobytes())
    return path


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def splits_of(paths: dict[str, Path]) -> dict[str, list[Utterance]]:
    return {split: read_manifest(path) for split, path in paths.items()}


def speakers(utts: list[Utterance]) -> set[str]:
    return {u.speaker for u in utts}


# ----------------------------------------------------------------------------- common helpers
def test_parse_speakers_accepts_string_or_list() -> None:
    assert parse_speakers("a, b,,c") == ["a", "b", "c"]
    assert parse_speakers(["a", "b"]) == ["a", "b"]
    assert parse_speakers(None) == [] and parse_speakers("") == []


def test_preview_counts_the_rest() -> None:
    assert preview(["c", "a", "b"], limit=2) == "a, b (and 1 more)"


def test_carve_by_speaker_is_disjoint_and_reproducible() -> None:
    utts = [Utterance(id=f"{s}-{i}", source="x", text="a", speaker=f"s{s}") for s in range(20) for i in range(3)]
    test, dev, train = carve_by_speaker(utts, [0.1, 0.2], seed=3)
    assert (len(test), len(dev), len(train)) == (6, 12, 42)
    assert not speakers(test) & speakers(dev) and not speakers(train) & (speakers(test) | speakers(dev))
    assert carve_by_speaker(utts, [0.1, 0.2], seed=3) == [test, dev, train]
    with pytest.raises(DataError, match="too few"):
        carve_by_speaker(utts[:3], [0.5], seed=0)


# ----------------------------------------------------------------------------- fsdd
FSDD_SPEAKERS = ("george", "jackson", "nicolas", "theo")
FSDD_DIGITS = (0, 1, 9)
FSDD_INDICES = (0, 4, 5, 12)


@pytest.fixture
def fsdd_dir(tmp_path: Path) -> Path:
    root = tmp_path / "fsdd"
    for speaker in FSDD_SPEAKERS:
        for digit in FSDD_DIGITS:
            for index in FSDD_INDICES:
                write_wav(root / "recordings" / f"{digit}_{speaker}_{index}.wav", 0.1, 8000)
    return root


def test_fsdd_text_speaker_duration(fsdd_dir: Path, tmp_path: Path) -> None:
    utts = [u for us in splits_of(run_recipe("fsdd", fsdd_dir, tmp_path / "out", {})).values() for u in us]
    assert len(utts) == len(FSDD_SPEAKERS) * len(FSDD_DIGITS) * len(FSDD_INDICES)
    by_id = {u.id: u for u in utts}
    assert by_id["9_nicolas_12"].text == "nine" and by_id["0_theo_4"].text == "zero"
    assert by_id["1_george_5"].speaker == "george"
    assert by_id["1_george_5"].duration == pytest.approx(0.1)
    assert all(Path(u.source).is_absolute() and Path(u.source).is_file() for u in utts)


def test_fsdd_default_split_holds_out_speakers(fsdd_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    splits = splits_of(run_recipe("fsdd", fsdd_dir, tmp_path / "out", {}))
    assert speakers(splits["test"]) == {"theo"} and speakers(splits["dev"]) == {"jackson"}
    assert speakers(splits["train"]) == {"george", "nicolas"}
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == ["out/train", "out/dev", "out/test"]


@pytest.mark.parametrize("test_speakers", ["george,nicolas", ["george", "nicolas"]])
def test_fsdd_speaker_options(fsdd_dir: Path, tmp_path: Path, test_speakers: str | list[str]) -> None:
    paths = run_recipe("fsdd", fsdd_dir, tmp_path / "out", {"test_speakers": test_speakers, "dev_speakers": ""})
    assert set(paths) == {"train", "test"}
    splits = splits_of(paths)
    assert speakers(splits["test"]) == {"george", "nicolas"} and speakers(splits["train"]) == {"jackson", "theo"}


def test_fsdd_upstream_split_by_index(fsdd_dir: Path, tmp_path: Path) -> None:
    splits = splits_of(run_recipe("fsdd", fsdd_dir, tmp_path / "out", {"split": "upstream"}))
    index = {split: {int(u.id.rsplit("_", 1)[1]) for u in utts} for split, utts in splits.items()}
    assert index == {"test": {0, 4}, "dev": {5}, "train": {12}}
    assert all(speakers(utts) == set(FSDD_SPEAKERS) for utts in splits.values())
    with pytest.raises(ConfigError, match="split='speaker' only"):
        run_recipe("fsdd", fsdd_dir, tmp_path / "x", {"split": "upstream", "test_speakers": "theo"})


def test_fsdd_faults(fsdd_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown speaker.*bob"):
        run_recipe("fsdd", fsdd_dir, tmp_path / "x", {"test_speakers": "bob"})
    with pytest.raises(ConfigError, match="both"):
        run_recipe("fsdd", fsdd_dir, tmp_path / "x", {"test_speakers": "theo", "dev_speakers": "theo"})
    with pytest.raises(ConfigError, match="no option 'speakers'"):
        run_recipe("fsdd", fsdd_dir, tmp_path / "x", {"speakers": "theo"})
    with pytest.raises(DataError, match="nowhere"):
        run_recipe("fsdd", tmp_path / "nowhere", tmp_path / "x", {})
    write_wav(fsdd_dir / "recordings" / "seven_theo.wav", 0.1, 8000)
    with pytest.raises(DataError, match="seven_theo.wav"):
        run_recipe("fsdd", fsdd_dir, tmp_path / "x", {})


# ----------------------------------------------------------------------------- an4
AN4_DIC = ["A AH", "A(2) EY", "B B IY", "NO N OW", "TWO T UW", "YES Y EH S"]
AN4_SENTENCES = (("YES", "A"), ("NO", "TWO", "B"))


def make_an4(
    root: Path, form: str = "wav", n_speakers: int = 12, marks: bool = True, part: str = "train"
) -> list[str]:
    """An AN4 part in the official layout: 2 utterances per speaker; returns the utterance ids."""
    folder = {"train": "an4_clstk", "test": "an4test_clstk"}[part]
    trans, fileids, ids = [], [], []
    for s in range(n_speakers):
        speaker = f"{part[:2]}{s:02d}"
        for n, words in enumerate(AN4_SENTENCES):
            utt_id = f"an{n}-{speaker}-b"
            ids.append(utt_id)
            text = " ".join(words)
            trans.append(f"<s> {text} </s> ({utt_id})" if marks else f"{text} ({utt_id})")
            fileids.append(f"{folder}/{speaker}/{utt_id}")
            if form == "wav":
                write_wav(root / "wav" / folder / speaker / f"{utt_id}.wav", 0.05)
            else:
                write_mfc(root / "feat" / folder / speaker / f"{utt_id}.mfc", frames=7 + s)
    write_lines(root / "etc" / f"an4_{part}.transcription", trans)
    write_lines(root / "etc" / f"an4_{part}.fileids", fileids)
    write_lines(root / "etc" / "an4.dic", AN4_DIC)
    return ids


def test_an4_wav_char(tmp_path: Path) -> None:
    ids = make_an4(tmp_path / "an4")
    splits = splits_of(run_recipe("an4", tmp_path / "an4", tmp_path / "out", {"dev_speakers": 3}))
    assert set(splits) == {"train", "dev"}
    assert len(speakers(splits["dev"])) == 3 and len(speakers(splits["train"])) == 9
    assert not speakers(splits["dev"]) & speakers(splits["train"])
    utts = {u.id: u for us in splits.values() for u in us}
    assert set(utts) == set(ids)
    assert utts["an0-tr00-b"].text == "YES A" and utts["an1-tr00-b"].text == "NO TWO B"
    assert utts["an0-tr00-b"].speaker == "tr00" and utts["an0-tr00-b"].duration == pytest.approx(0.05)
    again = splits_of(run_recipe("an4", tmp_path / "an4", tmp_path / "again", {"dev_speakers": 3}))
    assert speakers(again["dev"]) == speakers(splits["dev"])


def test_an4_default_dev_speakers_and_plain_transcripts(tmp_path: Path) -> None:
    make_an4(tmp_path / "an4", marks=False)
    splits = splits_of(run_recipe("an4", tmp_path / "an4", tmp_path / "out", {}))
    assert len(speakers(splits["dev"])) == 10
    assert {u.text for u in splits["train"]} == {"YES A", "NO TWO B"}


def test_an4_phone_uses_first_pronunciation(tmp_path: Path) -> None:
    make_an4(tmp_path / "an4")
    splits = splits_of(run_recipe("an4", tmp_path / "an4", tmp_path / "out", {"unit": "phone"}))
    texts = {u.id: u.text for us in splits.values() for u in us}
    assert texts["an0-tr00-b"] == "Y EH S AH"
    assert texts["an1-tr00-b"] == "N OW T UW B IY"


def test_an4_feat_frames_and_test_part(tmp_path: Path) -> None:
    make_an4(tmp_path / "an4", form="feat")
    make_an4(tmp_path / "an4", form="feat", n_speakers=2, part="test")
    splits = splits_of(run_recipe("an4", tmp_path / "an4", tmp_path / "out", {"dev_speakers": 2}))
    assert speakers(splits["test"]) == {"te00", "te01"}
    utt = {u.id: u for u in splits["train"] + splits["dev"]}["an0-tr03-b"]
    assert utt.num_frames == 10 and utt.duration == pytest.approx(0.10)
    assert utt.source.endswith("feat/an4_clstk/tr03/an0-tr03-b.mfc")


def test_an4_layout_choice(tmp_path: Path) -> None:
    make_an4(tmp_path / "an4", form="feat")
    make_an4(tmp_path / "an4", form="wav")
    auto = splits_of(run_recipe("an4", tmp_path / "an4", tmp_path / "a", {}))
    assert auto["train"][0].source.endswith(".wav") and auto["train"][0].num_frames is None
    feat = splits_of(run_recipe("an4", tmp_path / "an4", tmp_path / "f", {"layout": "feat"}))
    assert feat["train"][0].source.endswith(".mfc")


def test_an4_missing_file_names_it(tmp_path: Path) -> None:
    make_an4(tmp_path / "an4")
    (tmp_path / "an4" / "wav" / "an4_clstk" / "tr05" / "an1-tr05-b.wav").unlink()
    with pytest.raises(DataError, match=r"1 fatal .*\[no-audio\] an1-tr05-b"):
        run_recipe("an4", tmp_path / "an4", tmp_path / "out", {})
    assert "an1-tr05-b" in (tmp_path / "out" / "validation.txt").read_text()


def test_an4_untranscribed_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_an4(tmp_path / "an4")
    write_wav(tmp_path / "an4" / "wav" / "an4_clstk" / "tr01" / "an9-tr01-b.wav")
    splits = splits_of(run_recipe("an4", tmp_path / "an4", tmp_path / "out", {}))
    assert "an9-tr01-b" not in {u.id for us in splits.values() for u in us}
    assert "an9-tr01-b" in capsys.readouterr().err


def test_an4_duplicate_id(tmp_path: Path) -> None:
    make_an4(tmp_path / "an4")
    trans = tmp_path / "an4" / "etc" / "an4_train.transcription"
    trans.write_text(trans.read_text() + "<s> YES </s> (an0-tr00-b)\n")
    with pytest.raises(DataError, match="duplicate utterance id 'an0-tr00-b'"):
        run_recipe("an4", tmp_path / "an4", tmp_path / "out", {})


def test_an4_word_missing_from_dictionary(tmp_path: Path) -> None:
    make_an4(tmp_path / "an4")
    write_lines(tmp_path / "an4" / "etc" / "an4.dic", [d for d in AN4_DIC if not d.startswith("TWO")])
    with pytest.raises(DataError, match="'TWO' in utterance 'an1-tr00-b'"):
        run_recipe("an4", tmp_path / "an4", tmp_path / "out", {"unit": "phone"})


def wav_to_raw(wav: Path) -> Path:
    """The AN4 raw distribution's form of a 16 kHz WAV: headerless 16-bit big-endian samples."""
    samples, rate = soundfile.read(str(wav), dtype="int16")
    assert rate == 16000
    raw = wav.with_suffix(".raw")
    raw.write_bytes(samples.astype(">i2").tobytes())
    return raw


def test_an4_raw_audio_is_read_as_big_endian(tmp_path: Path) -> None:
    from seqlabel.features.audio import load_audio

    make_an4(tmp_path / "an4")
    wavs = sorted((tmp_path / "an4" / "wav").rglob("*.wav"))
    for wav in wavs:
        wav_to_raw(wav)
        wav.rename(wav.with_suffix(".keep"))  # out of the recipe's sight, kept for comparison
    splits = splits_of(run_recipe("an4", tmp_path / "an4", tmp_path / "out", {"dev_speakers": 3}))
    utts = {u.id: u for us in splits.values() for u in us}
    assert len(utts) == len(wavs) and all(u.source.endswith(".raw") for u in utts.values())
    utt = utts["an0-tr00-b"]
    assert utt.duration == pytest.approx(0.05)
    reference, _ = soundfile.read(str(Path(utt.source).with_suffix(".keep")), dtype="float32")
    assert np.array_equal(load_audio(utt, 16000).numpy(), reference)


def test_an4_sphere_audio(tmp_path: Path) -> None:
    from test_corpus_timit import write_sphere

    make_an4(tmp_path / "an4", n_speakers=4)
    for wav in (tmp_path / "an4" / "wav").rglob("*.wav"):
        samples, _ = soundfile.read(str(wav), dtype="int16")
        write_sphere(wav.with_suffix(".sph"), samples)
        wav.unlink()
    splits = splits_of(run_recipe("an4", tmp_path / "an4", tmp_path / "out", {"dev_speakers": 1}))
    assert all(u.source.endswith(".sph") and u.duration == pytest.approx(0.05) for u in splits["train"])


def test_real_an4_as_raw_gives_the_same_features(shared_data: Path, tmp_path: Path) -> None:
    """Two real AN4 utterances converted to the raw distribution's form: same fbank features as the WAV."""
    from seqlabel.config import FeatureConfig
    from seqlabel.features.audio import AudioFeatures

    real = real_corpus(shared_data, "an4_wav")
    extractor = AudioFeatures(FeatureConfig(type="fbank", energy=True, deltas=2))
    for wav in sorted((real / "wav" / "an4_clstk" / "fash").glob("*.wav"))[:2]:
        raw = wav_to_raw(Path(shutil.copy(wav, tmp_path / wav.name)))
        from_wav = extractor(Utterance(id=wav.stem, source=str(wav), text="x"))
        from_raw = extractor(Utterance(id=wav.stem, source=str(raw), text="x"))
        assert from_wav.shape[0] > 50 and torch.equal(from_wav, from_raw)


def test_an4_truncated_mfc_names_file(tmp_path: Path) -> None:
    make_an4(tmp_path / "an4", form="feat")
    write_mfc(tmp_path / "an4" / "feat" / "an4_clstk" / "tr02" / "an0-tr02-b.mfc", frames=5, header=13 * 9)
    with pytest.raises(DataError, match="an0-tr02-b.mfc"):
        run_recipe("an4", tmp_path / "an4", tmp_path / "out", {})


def test_an4_bad_options_and_data_dir(tmp_path: Path) -> None:
    make_an4(tmp_path / "an4", n_speakers=3)
    with pytest.raises(ConfigError, match="dev_speakers=3"):
        run_recipe("an4", tmp_path / "an4", tmp_path / "out", {"dev_speakers": 3})
    with pytest.raises(ConfigError, match="'word'"):
        run_recipe("an4", tmp_path / "an4", tmp_path / "out", {"unit": "word"})
    with pytest.raises(DataError, match="no AN4 training data"):
        run_recipe("an4", tmp_path, tmp_path / "out", {})
    with pytest.raises(DataError, match="missing_an4"):
        run_recipe("an4", tmp_path / "missing_an4", tmp_path / "out", {})


# ----------------------------------------------------------------------------- dir
@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    """10 speakers x 3 utterances, WAV and FLAC in nested folders, plus transcripts.tsv."""
    root = tmp_path / "mine"
    lines = []
    for s in range(10):
        for i in range(3):
            utt_id = f"spk{s}-{i:03d}"
            suffix = ".flac" if i == 2 else ".wav"
            write_wav(root / "audio" / f"spk{s}" / f"{utt_id}{suffix}", 0.05)
            lines.append(f"{utt_id}\thello   world {i}")
    write_lines(root / "transcripts.tsv", lines)
    return root


def test_dir_discovery_and_speaker_split(audio_dir: Path, tmp_path: Path) -> None:
    options = {"speaker_sep": "-", "dev_fraction": 0.2, "test_fraction": 0.1}
    splits = splits_of(run_recipe("dir", audio_dir, tmp_path / "out", options))
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [21, 6, 3]
    train, dev, test = (speakers(splits[s]) for s in ("train", "dev", "test"))
    assert not (train & dev or train & test or dev & test) and len(train | dev | test) == 10
    utt = {u.id: u for us in splits.values() for u in us}["spk3-002"]
    assert utt.text == "hello world 2" and utt.speaker == "spk3" and utt.source.endswith("spk3-002.flac")
    again = splits_of(run_recipe("dir", audio_dir, tmp_path / "again", options))
    assert speakers(again["dev"]) == dev


def test_dir_defaults_speaker_is_id(audio_dir: Path, tmp_path: Path) -> None:
    paths = run_recipe("dir", audio_dir, tmp_path / "out", {})
    assert set(paths) == {"train", "dev"}
    splits = splits_of(paths)
    assert len(splits["dev"]) == 3 and all(u.speaker == u.id for u in splits["train"])


def test_dir_transcripts_option(audio_dir: Path, tmp_path: Path) -> None:
    tsv = write_lines(tmp_path / "elsewhere.tsv", ["spk0-000\tone", "spk1-001\ttwo"])
    paths = run_recipe("dir", audio_dir, tmp_path / "out", {"transcripts": str(tsv), "dev_fraction": 0.0})
    assert [u.text for u in read_manifest(paths["train"])] == ["one", "two"]


def test_dir_line_without_tab(audio_dir: Path, tmp_path: Path) -> None:
    tsv = audio_dir / "transcripts.tsv"
    lines = tsv.read_text().splitlines()
    lines[2] = lines[2].replace("\t", " ")
    write_lines(tsv, lines)
    with pytest.raises(DataError, match=r"transcripts\.tsv:3: .*no tab"):
        run_recipe("dir", audio_dir, tmp_path / "out", {})


def test_dir_id_without_audio(audio_dir: Path, tmp_path: Path) -> None:
    (audio_dir / "audio" / "spk4" / "spk4-001.wav").unlink()
    with pytest.raises(DataError, match="spk4-001"):
        run_recipe("dir", audio_dir, tmp_path / "out", {})


def test_dir_audio_without_transcript_is_reported(
    audio_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    write_wav(audio_dir / "extra" / "stray.wav")
    run_recipe("dir", audio_dir, tmp_path / "out", {})
    assert "stray" in capsys.readouterr().err


def test_dir_empty_transcript(audio_dir: Path, tmp_path: Path) -> None:
    tsv = audio_dir / "transcripts.tsv"
    write_lines(tsv, ["spk9-001\t  " if line.startswith("spk9-001") else line for line in tsv.read_text().splitlines()])
    with pytest.raises(DataError, match="'spk9-001' has an empty transcript"):
        run_recipe("dir", audio_dir, tmp_path / "out", {})


def test_dir_duplicate_id(audio_dir: Path, tmp_path: Path) -> None:
    tsv = audio_dir / "transcripts.tsv"
    write_lines(tsv, tsv.read_text().splitlines() + ["spk9-000\tagain"])
    with pytest.raises(DataError, match="duplicate id 'spk9-000'"):
        run_recipe("dir", audio_dir, tmp_path / "out", {})


def test_dir_bad_fractions(audio_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="below 1"):
        run_recipe("dir", audio_dir, tmp_path / "out", {"dev_fraction": 0.6, "test_fraction": 0.5})


# ----------------------------------------------------------------------------- real corpora
def real_corpus(shared_data: Path, name: str) -> Path:
    folder = shared_data / name
    if not folder.is_dir():
        pytest.skip(f"real corpus {name!r} not found at {folder} (set SEQLABEL_SHARED_DATA to its parent)")
    return folder


def test_real_fsdd(shared_data: Path, tmp_path: Path) -> None:
    splits = splits_of(run_recipe("fsdd", real_corpus(shared_data, "fsdd"), tmp_path / "fsdd", {}))
    utts = [u for us in splits.values() for u in us]
    assert len(utts) == 2500 and len(speakers(utts)) == 5
    assert speakers(splits["test"]) == {"theo"} and "theo" not in speakers(splits["train"] + splits["dev"])
    assert {u.text for u in utts} == {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}


def test_real_an4_wav(shared_data: Path, tmp_path: Path) -> None:
    splits = splits_of(run_recipe("an4", real_corpus(shared_data, "an4_wav"), tmp_path / "an4", {}))
    assert set(splits) == {"train", "dev"}
    assert len(splits["train"]) + len(splits["dev"]) == 948
    assert len(speakers(splits["train"]) | speakers(splits["dev"])) == 74
    assert len(speakers(splits["dev"])) == 10 and not speakers(splits["dev"]) & speakers(splits["train"])


def test_real_an4_feat(shared_data: Path, tmp_path: Path) -> None:
    options = {"unit": "phone", "layout": "feat"}
    splits = splits_of(run_recipe("an4", real_corpus(shared_data, "an4"), tmp_path / "an4", options))
    utts = splits["train"] + splits["dev"]
    assert len(utts) == 948
    for u in utts:
        assert u.num_frames == np.fromfile(u.source, dtype=">f4", offset=4).size // 13
