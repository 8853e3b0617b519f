"""LibriSpeech recipe (corpora/librispeech) on fixture trees in the OpenSLR layout: FLAC files named
<speaker>-<chapter>-<utt>.flac, one <speaker>-<chapter>.trans.txt per chapter, planted faults."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from seqlabel.corpora import run_recipe
from seqlabel.data.manifest import read_manifest
from seqlabel.errors import ConfigError, DataError

WORDS = ("CHAPTER", "ONE", "MISSUS", "RACHEL", "LYNDE", "IS", "SURPRISED")
# subset -> {speaker: chapters}; speakers and chapters as numbers of different lengths (sorting)
TREE = {
    "train-clean-100": {"19": ("198", "227"), "103": ("1240",)},
    "dev-clean": {"84": ("121123",), "174": ("50561",)},
    "test-clean": {"1089": ("134686",)},
    "test-other": {"1688": ("142285",)},
}
UTTERANCES_PER_CHAPTER = 3


def make_librispeech(root: Path, tree: dict = TREE) -> Path:
    """LibriSpeech/<subset>/<spk>/<chapter>/ with 3 FLAC utterances (0.1-0.2 s) and their transcripts."""
    rng = np.random.default_rng(0)
    for subset, speakers in tree.items():
        for speaker, chapters in speakers.items():
            for chapter in chapters:
                folder = root / "LibriSpeech" / subset / speaker / chapter
                folder.mkdir(parents=True)
                lines = []
                for n in range(UTTERANCES_PER_CHAPTER):
                    utt_id = f"{speaker}-{chapter}-{n:04d}"
                    wave = 0.1 * rng.standard_normal(int(rng.uniform(0.1, 0.2) * 16000))
                    soundfile.write(str(folder / f"{utt_id}.flac"), wave, 16000, subtype="PCM_16")
                    lines.append(f"{utt_id} {' '.join(WORDS[(n + k) % len(WORDS)] for k in range(3))}\n")
                (folder / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines), encoding="utf-8")
    return root


@pytest.fixture
def libri(tmp_path: Path) -> Path:
    return make_librispeech(tmp_path / "corpus")


def test_default_subsets_and_fields(libri: Path, tmp_path: Path) -> None:
    paths = run_recipe("librispeech", libri, tmp_path / "out", {})
    assert set(paths) == {"train", "dev", "test"}
    train = read_manifest(paths["train"])
    assert [u.id for u in train][:4] == ["19-198-0000", "19-198-0001", "19-198-0002", "19-227-0000"]
    assert {u.speaker for u in train} == {"19", "103"} and len(train) == 9
    first = train[0]
    assert first.text == "CHAPTER ONE MISSUS" and first.source.endswith("train-clean-100/19/198/19-198-0000.flac")
    assert first.duration == pytest.approx(soundfile.info(first.source).duration)
    assert {u.speaker for u in read_manifest(paths["dev"])} == {"84", "174"}
    assert {u.speaker for u in read_manifest(paths["test"])} == {"1089"}
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["train"]["utterances"] == 9 and stats["train"]["speakers"] == 2
    assert set(stats["dev"]["tokens"]) <= set("".join(WORDS))


def test_several_test_subsets_get_one_manifest_each(libri: Path, tmp_path: Path) -> None:
    paths = run_recipe("librispeech", libri / "LibriSpeech", tmp_path / "out",
                       {"train": "", "dev": "dev-clean", "test": "test-clean,test-other"})
    assert set(paths) == {"dev", "test-clean", "test-other"}
    assert {u.speaker for u in read_manifest(paths["test-other"])} == {"1688"}


def test_missing_subset_lists_the_present_ones(libri: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="train-other-500 not found.*present: dev-clean, test-clean"):
        run_recipe("librispeech", libri, tmp_path / "out", {"train": "train-other-500"})
    with pytest.raises(ConfigError, match="more than one split"):
        run_recipe("librispeech", libri, tmp_path / "out", {"dev": "test-clean"})


def test_planted_faults_are_reported(libri: Path, tmp_path: Path) -> None:
    chapter = libri / "LibriSpeech" / "train-clean-100" / "19" / "198"
    (chapter / "19-198-0001.flac").unlink()
    with pytest.raises(DataError, match=r"\[no-audio\] 19-198-0001"):
        run_recipe("librispeech", libri, tmp_path / "out", {})
    trans = chapter / "19-198.trans.txt"
    trans.write_text(trans.read_text().replace("19-198-0001 ", "19-198-0009 "))
    soundfile.write(str(chapter / "19-198-0005.flac"), np.zeros(1600), 16000)  # no transcript line
    soundfile.write(str(chapter / "19-198-0009.flac"), np.zeros(60 * 16000), 16000)  # 60 s among 0.1-0.2 s
    paths = run_recipe("librispeech", libri, tmp_path / "out", {})
    report = (tmp_path / "out" / "validation.txt").read_text()
    assert "[no-transcript] 1" in report and "19-198-0005" in report
    assert "[duration-outlier] 1" in report and "19-198-0009" in report
    ids = {u.id for u in read_manifest(paths["train"])}
    assert "19-198-0005" not in ids and "19-198-0009" in ids


def test_empty_transcript_is_dropped_and_bad_line_names_file(libri: Path, tmp_path: Path) -> None:
    trans = libri / "LibriSpeech" / "dev-clean" / "84" / "121123" / "84-121123.trans.txt"
    lines = trans.read_text().splitlines()
    trans.write_text("\n".join([lines[0].split()[0], *lines[1:]]) + "\n")
    paths = run_recipe("librispeech", libri, tmp_path / "out", {})
    assert "84-121123-0000" not in {u.id for u in read_manifest(paths["dev"])}
    assert "[empty-transcript] 1" in (tmp_path / "out" / "validation.txt").read_text()
    trans.write_text("84-999-0000 WRONG CHAPTER\n")
    with pytest.raises(DataError, match=r"84-121123.trans.txt:1: expected '84-121123-<n> WORDS'"):
        run_recipe("librispeech", libri, tmp_path / "out", {})
