"""Bad inputs to manifests, audio, precomputed features, images, strokes, transcripts and vocabularies: each case asserts the error type and that the message names the
culprit (file, line, utterance id or key) and, where there is one, the fix (see ``bad_input.py``)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile
from bad_input import DIM, RATE, TEXTS, Base, Row, check_case, ids, npy_corpus, train_on

from seqlabel import api
from seqlabel.errors import DataError, VocabError


# ----------------------------------------------------------------------------- manifests
def manifest_not_json(tmp: Path, base: Base) -> None:
    train_on(tmp, [npy_corpus(tmp)[0], '{"id": "u1", "source": "u1.npy", "text": "ba"'])


def manifest_duplicate_id(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], rows[1], {**rows[2], "id": "u0"}])


def manifest_missing_key(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], {"id": "u1", "source": "u1.npy"}])


def manifest_unknown_key(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [{**rows[0], "txt": "ab"}, *rows[1:]])


def manifest_empty(tmp: Path, base: Base) -> None:
    train_on(tmp, ["", "  "])


def manifest_not_found(tmp: Path, base: Base) -> None:
    api.decode(base.checkpoint, tmp / "nowhere.jsonl", progress=False, device="cpu")


def manifest_bad_segment(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], {**rows[1], "start": 2.0, "end": 1.0}])


# ----------------------------------------------------------------------------- audio
def wav_rows(tmp: Path, spoil: Callable[[Path], None] | None = None, seconds: float = 0.3) -> list[dict]:
    rows = []
    for i, text in enumerate(TEXTS[:3]):
        path = tmp / f"u{i}.wav"
        t = np.arange(int(seconds * RATE)) / RATE
        soundfile.write(str(path), 0.3 * np.sin(2 * np.pi * (300 + 200 * i) * t), RATE, subtype="PCM_16")
        rows.append({"id": f"u{i}", "source": path.name, "text": text})
    if spoil is not None:
        spoil(tmp / "u1.wav")
    return rows


AUDIO = {"type": "fbank", "sample_rate": RATE, "num_bins": 10}


def wav_truncated(tmp: Path, base: Base) -> None:
    def cut(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    train_on(tmp, wav_rows(tmp, cut), features=AUDIO)


def wav_zero_length(tmp: Path, base: Base) -> None:
    def empty(path: Path) -> None:
        soundfile.write(str(path), np.zeros(0), RATE, subtype="PCM_16")
    train_on(tmp, wav_rows(tmp, empty), features=AUDIO)


def wav_shorter_than_a_frame(tmp: Path, base: Base) -> None:
    def short(path: Path) -> None:
        soundfile.write(str(path), np.zeros(80), RATE, subtype="PCM_16")  # 10 ms < 25 ms
    train_on(tmp, wav_rows(tmp, short), features=AUDIO)


def wav_missing(tmp: Path, base: Base) -> None:
    train_on(tmp, wav_rows(tmp, Path.unlink), features=AUDIO)


def wav_not_audio(tmp: Path, base: Base) -> None:
    train_on(tmp, wav_rows(tmp, lambda p: p.write_text("RIFF? no, a text file")), features=AUDIO)


def wav_wrong_rate(tmp: Path, base: Base) -> None:
    train_on(tmp, wav_rows(tmp), features={**AUDIO, "sample_rate": 16000, "resample": False})


def wav_segment_past_end(tmp: Path, base: Base) -> None:
    rows = wav_rows(tmp)
    train_on(tmp, [rows[0], {**rows[1], "start": 0.1, "end": 5.0}, rows[2]], features=AUDIO)


# ----------------------------------------------------------------------------- precomputed features
def npy_nan(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    feats = np.load(tmp / "u2.npy")
    feats[3, 1] = np.nan
    np.save(tmp / "u2.npy", feats)
    train_on(tmp, rows)


def npy_wrong_dimension(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    np.save(tmp / "u2.npy", np.zeros((10, DIM - 1), np.float32))
    train_on(tmp, rows, features={"type": "precomputed", "dim": DIM})


def npy_not_a_matrix(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    np.save(tmp / "u1.npy", np.zeros(10, np.float32))
    train_on(tmp, rows)


def mfc_truncated(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    values = np.zeros(13 * 10, ">f4")
    (tmp / "u1.mfc").write_bytes(np.array([values.size], ">i4").tobytes() + values.tobytes()[:-40])
    train_on(tmp, [rows[0], {**rows[1], "source": "u1.mfc"}])


# ----------------------------------------------------------------------------- images, strokes
def image_not_an_image(tmp: Path, base: Base) -> None:
    (tmp / "u0.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
    train_on(tmp, [{"id": "line0", "source": "u0.png", "text": "ab"}], features="image")


def image_missing(tmp: Path, base: Base) -> None:
    train_on(tmp, [{"id": "line0", "source": "gone.png", "text": "ab"}], features="image")


def strokes_bad_json(tmp: Path, base: Base) -> None:
    (tmp / "u0.json").write_text('{"strokes": [[[0, 0], [1, 1]], [[2, 2], [3')
    train_on(tmp, [{"id": "pen0", "source": "u0.json", "text": "ab"}], features="strokes")


def strokes_nan(tmp: Path, base: Base) -> None:
    np.savez(tmp / "u0.npz", points=np.array([[0, 0], [1, np.nan], [2, 1]]), lengths=np.array([3]))
    train_on(tmp, [{"id": "pen0", "source": "u0.npz", "text": "ab"}], features="strokes")


# ----------------------------------------------------------------------------- transcripts, vocabularies
def transcript_unknown_token(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("<blank>\n|\na\nb\n")  # no 'c'
    train_on(tmp, npy_corpus(tmp), data={"vocab": str(tmp / "tokens.txt")})


def transcript_empty(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], {**rows[1], "text": "   "}])


def transcript_holds_word_boundary(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    train_on(tmp, [rows[0], {**rows[1], "text": "a|b"}])


def transcript_ctc_infeasible(tmp: Path, base: Base) -> None:
    """Every transcript longer than its output frames: nothing to train on."""
    np.save(tmp / "u0.npy", np.zeros((3, DIM), np.float32))
    train_on(tmp, [{"id": "u0", "source": "u0.npy", "text": "abcabc"}])


def vocab_without_blank(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("|\na\nb\nc\n")
    train_on(tmp, npy_corpus(tmp), data={"vocab": str(tmp / "tokens.txt")})


def vocab_duplicate_token(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("<blank>\n|\na\nb\na\nc\n")
    train_on(tmp, npy_corpus(tmp), data={"vocab": str(tmp / "tokens.txt")})


def vocab_empty_line(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("<blank>\n|\n\na\nb\nc\n")
    train_on(tmp, npy_corpus(tmp), data={"vocab": str(tmp / "tokens.txt")})


# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[Row] = [
    (manifest_not_json, DataError, ("{tmp}/train.jsonl:2", "not valid JSON")),
    (manifest_duplicate_id, DataError, ("{tmp}/train.jsonl:3", "duplicate utterance id 'u0'", "first on line 1")),
    (manifest_missing_key, DataError, ("{tmp}/train.jsonl:2", "missing key(s) ['text']", '"text": ""')),
    (manifest_unknown_key, DataError, ("{tmp}/train.jsonl:1", "unknown key(s) ['txt']", "valid keys")),
    (manifest_empty, DataError, ("{tmp}/train.jsonl", "holds no utterances")),
    (manifest_not_found, DataError, ("{tmp}/nowhere.jsonl", "seqlabel prepare")),
    (manifest_bad_segment, DataError, ("{tmp}/train.jsonl:2", "'u1'", "need 0 <= start < end")),
    (wav_truncated, DataError, ("'u1'", "{tmp}/u1.wav", "truncated", "copy or convert it again")),
    (wav_zero_length, DataError, ("'u1'", "{tmp}/u1.wav", "audio is empty")),
    (wav_shorter_than_a_frame, DataError, ("'u1'", "{tmp}/u1.wav", "too short for one 25.0 ms frame")),
    (wav_missing, DataError, ("'u1'", "{tmp}/u1.wav", "not found")),
    (wav_not_audio, DataError, ("'u1'", "{tmp}/u1.wav", "cannot read audio")),
    (wav_wrong_rate, DataError, ("'u0'", "8000 Hz", "features.sample_rate", "set features.resample: true")),
    (wav_segment_past_end, DataError, ("'u1'", "{tmp}/u1.wav", "segment end 5.0s is past the end")),
    (npy_nan, DataError, ("'u2'", "{tmp}/u2.npy", "non-finite feature values (first at frame 3)")),
    (npy_wrong_dimension, DataError, ("'u2'", "{tmp}/u2.npy", "5 feature dims, expected 6", "features.dim")),
    (npy_not_a_matrix, DataError, ("'u1'", "{tmp}/u1.npy", "(frames, dims)")),
    (mfc_truncated, DataError, ("'u1'", "{tmp}/u1.mfc", "header says 130 values", "truncated?")),
    (image_not_an_image, DataError, ("line0", "{tmp}/u0.png", "cannot read image")),
    (image_missing, DataError, ("line0", "{tmp}/gone.png", "not found")),
    (strokes_bad_json, DataError, ("pen0", "{tmp}/u0.json", "not a valid json stroke file")),
    (strokes_nan, DataError, ("pen0", "{tmp}/u0.npz", "non-finite coordinates")),
    (transcript_unknown_token, VocabError, ("'u2'", "token 'c' is not in the vocabulary")),
    (transcript_empty, DataError, ("'u1'", "empty transcript")),
    (transcript_holds_word_boundary, VocabError, ("'u1'", "'|'", "choose another data.word_boundary")),
    (transcript_ctc_infeasible, DataError, ("CTC-infeasible", "{tmp}/exp/skipped.tsv", "reduce model.subsampling")),
    (vocab_without_blank, VocabError, ("{tmp}/tokens.txt", "line 1 must be <blank>")),
    (vocab_duplicate_token, VocabError, ("{tmp}/tokens.txt", "duplicate tokens in vocabulary: ['a']")),
    (vocab_empty_line, VocabError, ("{tmp}/tokens.txt:3", "empty token")),
]


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)
