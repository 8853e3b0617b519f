"""Corpus recipes (corpora/): the shared helpers, fsdd and dir (AN4: test_corpus_an4.py): discovery, transcripts, speaker-disjoint splits, planted faults.

Fixture corpora are built in tmp_path (tiny sine WAVs, fake big-endian .mfc files, transcripts in
the real formats). Tests on the real corpora under ``shared_data`` skip when they are absent.
"""
from __future__ import annotations

import logging

from pathlib import Path

import pytest
from corpus_fixtures import real_corpus, speakers, splits_of, write_lines, write_wav

from seqlabel.corpora import run_recipe
from seqlabel.corpora.common import carve_by_speaker, parse_speakers, preview
from seqlabel.data.manifest import read_manifest
from seqlabel.errors import ConfigError, DataError
from seqlabel.types import Utterance


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


def test_fsdd_writes_the_ten_words_as_a_lexicon(fsdd_dir: Path, tmp_path: Path) -> None:
    """words.txt: every transcript's word, once, loadable as a lexicon for closed-vocabulary decoding."""
    from seqlabel.data.vocab import Vocab
    from seqlabel.decoders.factory import load_lexicon

    splits = splits_of(run_recipe("fsdd", fsdd_dir, tmp_path / "out", {}))
    words = (tmp_path / "out" / "words.txt").read_text(encoding="utf-8").split()
    assert len(words) == len(set(words)) == 10
    assert {u.text for us in splits.values() for u in us} <= set(words)
    vocab = Vocab.build(words, "char", "|")
    assert len(load_lexicon(tmp_path / "out" / "words.txt", vocab).words) == 10


def test_fsdd_default_split_holds_out_speakers(fsdd_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="seqlabel"):
        splits = splits_of(run_recipe("fsdd", fsdd_dir, tmp_path / "out", {}))
    assert speakers(splits["test"]) == {"theo"} and speakers(splits["dev"]) == {"jackson"}
    assert speakers(splits["train"]) == {"george", "nicolas"}
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert [line.split(":")[0] for line in said] == ["out/train", "out/dev", "out/test"]


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
def test_real_fsdd(shared_data: Path, tmp_path: Path) -> None:
    splits = splits_of(run_recipe("fsdd", real_corpus(shared_data, "fsdd"), tmp_path / "fsdd", {}))
    utts = [u for us in splits.values() for u in us]
    assert len(utts) == 2500 and len(speakers(utts)) == 5
    assert speakers(splits["test"]) == {"theo"} and "theo" not in speakers(splits["train"] + splits["dev"])
    assert {u.text for u in utts} == {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
