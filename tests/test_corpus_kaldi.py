"""Kaldi data dirs (corpora/kaldi) and lhotse manifests (corpora/lhotse) on fixtures in their real
formats: wav.scp/text/utt2spk/segments, feats.scp with binary archives, recordings/supervisions JSONL."""
from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile

from seqlabel.config import FeatureConfig
from seqlabel.corpora import run_recipe
from seqlabel.data.manifest import read_manifest
from seqlabel.errors import ConfigError, DataError
from seqlabel.features.precomputed import PrecomputedFeatures, kaldi_matrix_shape, read_kaldi_matrix
from seqlabel.types import Utterance


# ----------------------------------------------------------------------------- fixture writers
def kaldi_matrix(matrix: np.ndarray, token: bytes = b"FM ") -> bytes:
    """A binary Kaldi matrix as written into an archive after '<key> '."""
    dtype = "<f4" if token == b"FM " else "<f8"
    rows, cols = matrix.shape
    return b"\0B" + token + b"\4" + struct.pack("<i", rows) + b"\4" + struct.pack("<i", cols) + \
        matrix.astype(dtype).tobytes()


def write_ark(path: Path, matrices: dict[str, np.ndarray], token: bytes = b"FM ") -> dict[str, int]:
    """An archive of matrices; returns each key's byte offset, as feats.scp lists it."""
    offsets, blob = {}, b""
    for key, matrix in matrices.items():
        blob += key.encode() + b" "
        offsets[key] = len(blob)
        blob += kaldi_matrix(matrix, token)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return offsets


def write_table(path: Path, rows: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k} {v}\n" for k, v in rows.items()), encoding="utf-8")


def tone(path: Path, seconds: float, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), 0.1 * np.sin(np.arange(int(seconds * rate)) / 3.0), rate)
    return path


SPEAKERS = ("spk1", "spk2", "spk3")


def make_kaldi(root: Path) -> Path:
    """s5/data/{train (wav.scp), dev (wav.scp + segments), test (feats.scp)}; audio in s5/wav/, paths relative."""
    s5 = root / "s5"
    ids = [f"{s}-u{i}" for s in SPEAKERS for i in range(3)]
    for utt in ids:
        tone(s5 / "wav" / f"{utt}.wav", 0.1 + 0.01 * len(utt))
    train = s5 / "data" / "train"
    write_table(train / "wav.scp", {u: f"wav/{u}.wav" for u in ids})
    write_table(train / "text", {u: f"HELLO {u[-1]}" for u in ids})
    write_table(train / "utt2spk", {u: u.split("-")[0] for u in ids})
    dev = s5 / "data" / "dev"
    tone(s5 / "wav" / "meeting.wav", 2.0)
    write_table(dev / "wav.scp", {"meeting": str((s5 / "wav" / "meeting.wav").resolve())})
    write_table(dev / "segments", {"spk1-a": "meeting 0.00 0.50", "spk2-b": "meeting 0.50 1.20",
                                   "spk1-c": "meeting 1.20 -1"})
    write_table(dev / "text", {"spk1-a": "A", "spk2-b": "B C", "spk1-c": "D"})
    write_table(dev / "utt2spk", {"spk1-a": "spk1", "spk2-b": "spk2", "spk1-c": "spk1"})
    test = s5 / "data" / "test"
    matrices = {"spk3-x": np.arange(30, dtype=float).reshape(10, 3), "spk3-y": np.ones((7, 3))}
    offsets = write_ark(s5 / "fbank" / "raw_fbank_test.1.ark", matrices)
    write_table(test / "feats.scp", {k: f"fbank/raw_fbank_test.1.ark:{o}" for k, o in offsets.items()})
    write_table(test / "text", {"spk3-x": "X", "spk3-y": "Y"})
    write_table(test / "utt2spk", {"spk3-x": "spk3", "spk3-y": "spk3"})
    return s5 / "data"


# ----------------------------------------------------------------------------- Kaldi archives
def test_kaldi_float_and_double_matrices_are_read(tmp_path: Path) -> None:
    m = np.random.default_rng(0).standard_normal((5, 4))
    for token in (b"FM ", b"DM "):
        offsets = write_ark(tmp_path / "a.ark", {"u1": m[:2], "u2": m}, token)
        assert kaldi_matrix_shape(tmp_path / "a.ark", offsets["u2"]) == (5, 4)
        np.testing.assert_allclose(read_kaldi_matrix(tmp_path / "a.ark", offsets["u2"]), m, rtol=1e-6)


def test_kaldi_compressed_text_and_truncated_archives_are_refused(tmp_path: Path) -> None:
    ark = tmp_path / "c.ark"
    ark.write_bytes(b"u1 \0BCM2 " + bytes(40))
    with pytest.raises(DataError, match=r"c\.ark:3: compressed Kaldi matrix \('CM2'\).*copy-feats"):
        read_kaldi_matrix(ark, 3)
    ark.write_bytes(b"u1  [\n 1 2 3 ]\n")
    with pytest.raises(DataError, match="not a binary Kaldi matrix.*ark,t"):
        read_kaldi_matrix(ark, 3)
    offsets = write_ark(ark, {"u1": np.ones((6, 2))})
    ark.write_bytes(ark.read_bytes()[:-8])
    with pytest.raises(DataError, match=r"6 x 2 but the archive ends after 10 values"):
        read_kaldi_matrix(ark, offsets["u1"])


def test_precomputed_features_read_ark_sources_with_deltas(tmp_path: Path) -> None:
    m = np.arange(12, dtype=float).reshape(4, 3)
    offsets = write_ark(tmp_path / "f.ark", {"u1": m})
    extractor = PrecomputedFeatures(FeatureConfig(type="precomputed", deltas=1))
    feats = extractor(Utterance(id="u1", source=f"{tmp_path / 'f.ark'}:{offsets['u1']}", text="x"))
    assert feats.shape == (4, 6) and np.array_equal(feats[:, :3].numpy(), m)
    with pytest.raises(DataError, match="'u2'.*not found.*gone.ark"):
        extractor(Utterance(id="u2", source=f"{tmp_path / 'gone.ark'}:3", text="x"))


# ----------------------------------------------------------------------------- Kaldi data dirs
def test_kaldi_wav_segments_and_feats(tmp_path: Path) -> None:
    data = make_kaldi(tmp_path)
    paths = run_recipe("kaldi", data, tmp_path / "out", {})
    train = read_manifest(paths["train"])
    assert len(train) == 9 and train[0].id == "spk1-u0" and train[0].speaker == "spk1"
    assert train[0].text == "HELLO 0" and train[0].source.endswith("s5/wav/spk1-u0.wav")
    assert train[0].duration == pytest.approx(soundfile.info(train[0].source).duration)
    dev = {u.id: u for u in read_manifest(paths["dev"])}
    assert (dev["spk2-b"].start, dev["spk2-b"].end, dev["spk2-b"].duration) == (0.5, 1.2, pytest.approx(0.7))
    assert dev["spk1-c"].end is None and dev["spk1-c"].duration == pytest.approx(0.8)
    test = {u.id: u for u in read_manifest(paths["test"])}
    assert test["spk3-x"].num_frames == 10 and test["spk3-x"].duration == pytest.approx(0.1)
    extractor = PrecomputedFeatures(FeatureConfig(type="precomputed"))
    assert np.array_equal(extractor(test["spk3-x"]).numpy(), np.arange(30).reshape(10, 3))
    assert "no problems" in (tmp_path / "out" / "validation.txt").read_text()


def test_kaldi_split_choice(tmp_path: Path) -> None:
    data = make_kaldi(tmp_path)
    paths = run_recipe("kaldi", data, tmp_path / "out", {"train": "dev", "dev": "", "test": "test"})
    assert set(paths) == {"train", "test"} and len(read_manifest(paths["train"])) == 3
    with pytest.raises(DataError, match="no 'text' file.*data dirs in .*: dev, test, train"):
        run_recipe("kaldi", data, tmp_path / "out", {"dev": "dev_clean"})
    with pytest.raises(ConfigError, match="source must be one of"):
        run_recipe("kaldi", data, tmp_path / "out", {"source": "mp3"})


def test_kaldi_command_pipes_are_refused_clearly(tmp_path: Path) -> None:
    data = make_kaldi(tmp_path)
    write_table(data / "train" / "wav.scp",
                {f"{s}-u{i}": f"/opt/kaldi/tools/sph2pipe -f wav /t/{s}{i}.WAV |" for s in SPEAKERS for i in range(3)})
    with pytest.raises(DataError, match=r"9 fatal.*\[unsupported\] spk1-u0.*sph2pipe.*command pipes"):
        run_recipe("kaldi", data, tmp_path / "out", {})


def test_kaldi_planted_faults_are_reported(tmp_path: Path) -> None:
    data = make_kaldi(tmp_path)
    train = data / "train"
    texts = {f"{s}-u{i}": "HI" for s in SPEAKERS for i in range(3) if (s, i) != ("spk2", 1)}  # spk2-u1: none
    write_table(train / "text", {**texts, "spk3-u2": "", "spk9-u9": "HI"})  # empty; no audio
    (train / "text").write_text((train / "text").read_text() + "spk1-u1 AGAIN\n")  # duplicate
    write_table(train / "utt2spk", {f"{s}-u{i}": s for s in SPEAKERS for i in range(3) if s != "spk3"})
    with pytest.raises(DataError, match=r"2 fatal") as err:
        run_recipe("kaldi", data, tmp_path / "out", {})
    assert "spk1-u1" in str(err.value)
    report = (tmp_path / "out" / "validation.txt").read_text()
    for line in ("[duplicate-id] 1 FATAL", "[no-audio] 1 FATAL", "spk9-u9", "[no-transcript] 1", "spk2-u1",
                 "[no-speaker] 3", "[empty-transcript] 1"):
        assert line in report, line


def test_kaldi_missing_wav_and_compressed_feats_are_fatal(tmp_path: Path) -> None:
    data = make_kaldi(tmp_path)
    (data.parent / "wav" / "spk2-u2.wav").unlink()
    ark = data.parent / "fbank" / "raw_fbank_test.1.ark"
    ark.write_bytes(ark.read_bytes().replace(b"\0BFM ", b"\0BCM ", 1))
    with pytest.raises(DataError, match=r"2 fatal.*\[missing-file\] .*spk2-u2.wav"):
        run_recipe("kaldi", data, tmp_path / "out", {})
    report = (tmp_path / "out" / "validation.txt").read_text()
    assert "[unreadable-file] 1 FATAL" in report and "compressed Kaldi matrix" in report


# ----------------------------------------------------------------------------- lhotse manifests
def write_jsonl(path: Path, records: list[dict]) -> None:
    text = "".join(json.dumps(r) + "\n" for r in records)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def recording(rec_id: str, path: str, seconds: float, rate: int = 16000) -> dict:
    return {"id": rec_id, "sources": [{"type": "file", "channels": [0], "source": path}], "sampling_rate": rate,
            "num_samples": int(seconds * rate), "duration": seconds, "channel_ids": [0]}


def supervision(sup_id: str, rec_id: str, start: float, duration: float, text: str, speaker: str) -> dict:
    return {"id": sup_id, "recording_id": rec_id, "start": start, "duration": duration, "channel": 0,
            "text": text, "language": "English", "speaker": speaker}


def make_lhotse(root: Path) -> Path:
    """mini_recordings_{train,dev}.jsonl.gz + mini_supervisions_*: whole-file and segment supervisions."""
    manifests = root / "manifests"
    recs, sups = [], []
    for i in range(4):
        tone(root / "audio" / f"r{i}.flac", 0.3)
        recs.append(recording(f"r{i}", f"audio/r{i}.flac", 0.3))
        sups.append(supervision(f"r{i}-0", f"r{i}", 0.0, 0.3, f"WORD {i}", f"s{i % 2}"))
    write_jsonl(manifests / "mini_recordings_train.jsonl.gz", recs)
    write_jsonl(manifests / "mini_supervisions_train.jsonl.gz", sups)
    tone(root / "audio" / "long.wav", 1.0)
    write_jsonl(manifests / "mini_recordings_dev.jsonl", [recording("long", str(root / "audio" / "long.wav"), 1.0)])
    write_jsonl(manifests / "mini_supervisions_dev.jsonl", [supervision("long-a", "long", 0.1, 0.4, "A", "s9"),
                                                            supervision("long-b", "long", 0.5, 0.5, "B", "s9")])
    return manifests


def test_lhotse_recordings_and_supervisions(tmp_path: Path) -> None:
    manifests = make_lhotse(tmp_path)
    paths = run_recipe("lhotse", manifests, tmp_path / "out", {"path_root": str(tmp_path)})
    assert set(paths) == {"train", "dev"}
    train = read_manifest(paths["train"])
    assert [u.id for u in train] == ["r0-0", "r1-0", "r2-0", "r3-0"]
    assert train[1].text == "WORD 1" and train[1].speaker == "s1" and train[1].start is None
    assert Path(train[1].source) == (tmp_path / "audio" / "r1.flac").resolve() and train[1].duration == 0.3
    dev = {u.id: u for u in read_manifest(paths["dev"])}
    assert (dev["long-a"].start, dev["long-a"].end) == (0.1, pytest.approx(0.5))


def test_lhotse_planted_faults(tmp_path: Path) -> None:
    manifests = make_lhotse(tmp_path)
    recs = [recording(f"r{i}", f"audio/r{i}.flac", 0.3) for i in range(4)]
    recs[1]["sources"][0] = {"type": "url", "channels": [0], "source": "https://example.org/r1.flac"}
    recs[2]["sampling_rate"] = 8000
    recs.append(recording("r9", "audio/r9.flac", 0.3))  # no supervision
    write_jsonl(manifests / "mini_recordings_train.jsonl.gz", recs)
    sups = [supervision(f"r{i}-0", f"r{i}", 0.0, 0.3, f"WORD {i}", "s") for i in range(4)]
    sups.append(supervision("r7-0", "r7", 0.0, 1.0, "X", "s"))
    write_jsonl(manifests / "mini_supervisions_train.jsonl.gz", sups)
    with pytest.raises(DataError, match=r"2 fatal.*\[unsupported\] r1"):
        run_recipe("lhotse", manifests, tmp_path / "out", {"path_root": str(tmp_path)})
    report = (tmp_path / "out" / "validation.txt").read_text()
    for line in ("[unsupported] 1 FATAL", "type 'url'", "[no-audio] 1 FATAL", "r7-0", "[no-transcript] 1", "r9",
                 "[sample-rate] 1", "r2-0\t8000 Hz"):
        assert line in report, line


def test_lhotse_part_choice(tmp_path: Path) -> None:
    manifests = make_lhotse(tmp_path)
    with pytest.raises(DataError, match="no .*recordings_test.*found"):
        run_recipe("lhotse", manifests, tmp_path / "out", {"test": "test"})
    write_jsonl(manifests / "other_recordings_train.jsonl", [])
    with pytest.raises(ConfigError, match="-p prefix="):
        run_recipe("lhotse", manifests, tmp_path / "out", {})
    paths = run_recipe("lhotse", manifests, tmp_path / "out", {"prefix": "mini", "path_root": str(tmp_path)})
    assert len(read_manifest(paths["train"])) == 4
