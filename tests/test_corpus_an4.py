"""The AN4 recipe (corpora/an4): wav/raw/sphere/feat layouts, char and phone units, dev speakers,
the test part, planted faults, and the real corpus under ``shared_data``."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from corpus_fixtures import real_corpus, speakers, splits_of, write_lines, write_mfc, write_wav

from seqlabel.corpora import run_recipe
from seqlabel.errors import ConfigError, DataError
from seqlabel.types import Utterance

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
