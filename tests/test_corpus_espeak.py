"""The eSpeak NG corpus recipe: a tiny corpus, synthesised offline."""
from __future__ import annotations

from pathlib import Path

import pytest
import soundfile

import seqlabel.corpora.espeak as espeak
from seqlabel.corpora import run_recipe
from seqlabel.data.manifest import read_manifest
from seqlabel.errors import DataError
from seqlabel.types import Utterance

SIZES = {"num_train": 12, "num_dev": 4, "num_test": 4}
INVENTORY = set(espeak.PHONES.values()) - {""}


def _prepare(out_dir: Path, seed: int = 0) -> dict[str, list[Utterance]]:
    paths = run_recipe("espeak", None, out_dir, {**SIZES, "seed": seed})
    return {split: read_manifest(path) for split, path in paths.items()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Utterance]]]:
    out_dir = tmp_path_factory.mktemp("espeak")
    return out_dir, _prepare(out_dir)


def _words(out_dir: Path) -> dict[str, str]:
    lines = (out_dir / "words.tsv").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t") for line in lines)


def test_manifests_and_sizes(corpus):
    out_dir, splits = corpus
    assert sorted(splits) == ["dev", "test", "train"]
    assert {split: len(utts) for split, utts in splits.items()} == {"train": 12, "dev": 4, "test": 4}
    for split in splits:
        assert (out_dir / f"{split}.jsonl").is_file()


def test_held_out_speakers(corpus):
    _, splits = corpus
    speakers = {split: {u.speaker for u in utts} for split, utts in splits.items()}
    assert not speakers["test"] & speakers["train"]
    assert not speakers["dev"] & speakers["train"]
    assert not speakers["dev"] & speakers["test"]
    assert len(speakers["train"]) == 12  # 12 utterances spread one per speaker
    assert all(u.id.startswith(u.speaker + "-") for utts in splits.values() for u in utts)


def test_audio_matches_manifest(corpus):
    out_dir, splits = corpus
    for utt in (u for utts in splits.values() for u in utts):
        path = Path(utt.source)
        assert path.is_file() and path.parent == out_dir / "wav" / utt.speaker
        info = soundfile.info(str(path))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames / info.samplerate == pytest.approx(utt.duration, abs=1e-3)
        assert espeak.MIN_SECONDS - 0.01 <= utt.duration <= espeak.MAX_SECONDS + 0.01
        audio, _ = soundfile.read(str(path))
        assert abs(audio).max() > 0.05  # speech, not silence


def test_labels_are_phones_with_room_for_ctc(corpus):
    _, splits = corpus
    assert 40 <= len(INVENTORY) <= 60
    for utt in (u for utts in splits.values() for u in utts):
        phones = utt.text.split()
        assert phones and set(phones) <= INVENTORY, utt
        assert not any(ch in utt.text for ch in "',%=_|")  # stress marks and pauses stripped
        assert utt.duration * 100 >= 3 * len(phones)  # >= 3 frames of 10 ms per phone


def test_labels_are_what_espeak_says_for_the_words(corpus):
    out_dir, splits = corpus
    words = _words(out_dir)
    for utt in (u for utts in splits.values() for u in utts):
        assert 1 <= len(words[utt.id].split()) <= espeak.MAX_WORDS
        assert espeak.phonemize(words[utt.id]) == utt.text.split(), utt.id


def test_same_word_same_phones_for_every_speaker():
    speakers = [s for group in espeak.SPEAKERS.values() for s in group]
    for word in ("kitten", "measure", "thousand"):
        phones = {tuple(espeak.phonemize(word, speaker) or ()) for speaker in speakers}
        assert len(phones) == 1 and () not in phones, (word, phones)
    assert espeak.phonemize("kitten") == espeak.phonemize("kitten")


def test_same_seed_same_corpus(corpus, tmp_path):
    _, first = corpus
    second = _prepare(tmp_path)
    third = _prepare(tmp_path / "other", seed=1)

    def texts(splits):
        return {split: [(u.id, u.speaker, u.text) for u in utts] for split, utts in splits.items()}

    assert texts(second) == texts(first)
    assert texts(third) != texts(first)


def test_phones_of_strips_stress_and_pauses():
    assert espeak.phones_of(["'a", "b", ",I2", "_:", "||", "%n", "_"]) == ["a", "b", "I", "n"]
    assert espeak.phones_of(["r-", ";", "'0"]) == ["r", "A:"]
    assert espeak.phones_of(["x"]) is None  # outside the phone table


def test_bad_options_and_missing_library(monkeypatch, tmp_path):
    with pytest.raises(DataError, match="num_dev"):
        espeak.prepare(None, tmp_path, num_dev=-1)
    import espeakng_loader

    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: str(tmp_path / "libnothing.so"))
    with pytest.raises(DataError, match="cannot load the eSpeak NG library"):
        espeak.Engine()
