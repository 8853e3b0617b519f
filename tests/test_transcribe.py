"""``seqlabel transcribe`` / ``api.transcribe`` and the in-memory ``Recognizer`` calls: the same
hypotheses as ``seqlabel decode`` on a manifest of the same files (audio and line images, greedy and
beam), folder recursion and type filtering, every output format read back, unreadable files reported
while the others are transcribed, and arrays giving what their files give."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
from helpers import invoke, ok, refused
from test_image import bars_corpus

from seqlabel import api
from seqlabel.config import config_from_data
from seqlabel.data.manifest import read_manifest
from seqlabel.data.transcripts import read_kaldi_text
from seqlabel.decoders.ctm import read_ctm
from seqlabel.errors import ConfigError, DataError
from seqlabel.inference.recognizer import Recognizer
from seqlabel.inference.transcribe import file_id, find_inputs


@pytest.fixture(scope="module")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny line-image model (bars for 'a' and 'b'): {"checkpoint", "dev" manifest, "root"}."""
    root = tmp_path_factory.mktemp("image_run")
    train = bars_corpus(root, ["ab", "ba", "aab", "bba", "abab", "b", "a", "bab"] * 2, "tr")
    dev = bars_corpus(root, ["aba", "bb", "ab"], "dv")
    config = config_from_data({
        "data": {"train": str(train), "dev": str(dev)},
        "features": {"type": "image", "cmvn": "global", "image": {"height": 12, "pad": 2}},
        "model": {"num_layers": 1, "hidden_size": 12},
        "train": {"lr": 0.03, "max_epochs": 6, "batch_frames": 600, "max_batch_size": 4, "progress": False,
                  "tensorboard": False, "device": "cpu", "amp": "off", "early_stop_patience": 0, "seed": 2},
    })
    result = api.train(config, root / "exp", echo=lambda _: None)
    return {"checkpoint": result.best_checkpoint, "dev": dev, "root": root}


def decode_by_source(checkpoint: Path, manifest: Path, tmp: Path, *options: str) -> dict[str, list[str]]:
    """``seqlabel decode`` of a manifest: {source path: tokens}."""
    ok(invoke("decode", checkpoint, manifest, "--out", tmp / "decode.txt", "--device", "cpu", *options))
    hyps = read_kaldi_text(tmp / "decode.txt")
    return {u.source: hyps[u.id] for u in read_manifest(manifest)}


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
@pytest.mark.parametrize("run", ["phone_run", "image_run"])
def test_transcribe_equals_decode(run: str, decoder: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    model = request.getfixturevalue(run)
    expected = decode_by_source(model["checkpoint"], model["dev"], tmp_path, "--decoder", decoder)
    sources = list(expected)[::-1]  # not the manifest's order: the output follows the command line
    ok(invoke("transcribe", model["checkpoint"], *sources, "--format", "kaldi", "--out", tmp_path / "t.txt",
              "--decoder", decoder, "--device", "cpu"))
    got = read_kaldi_text(tmp_path / "t.txt")
    assert list(got) == [file_id(s) for s in sources]
    assert {s: got[file_id(s)] for s in sources} == expected
    assert any(expected.values())  # the model says something: the comparison is not between empty lines


def test_folders_are_searched_recursively_sorted_and_filtered(phone_run: dict[str, Path], tmp_path: Path) -> None:
    wavs = sorted((phone_run["dev"].parent / "wav").glob("dv*.wav"))
    folder = tmp_path / "in"
    layout = {"b/z.wav": wavs[0], "a/deep/y.WAV": wavs[1], "a/x.flac": wavs[2], ".hidden/w.wav": wavs[0],
              "a/._junk.wav": wavs[0]}
    for name, src in layout.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".flac"):
            data, rate = soundfile.read(str(src))
            soundfile.write(str(folder / name), data, rate)
        else:
            shutil.copy(src, folder / name)
    (folder / "a" / "notes.txt").write_text("not audio")
    (folder / "a" / "x.png").write_bytes(b"\x89PNG")
    found = find_inputs([folder, wavs[2]], (".wav", ".flac"), "audio")
    assert found == [folder / "a/deep/y.WAV", folder / "a/x.flac", folder / "b/z.wav", wavs[2]]
    result = ok(invoke("transcribe", phone_run["checkpoint"], folder, wavs[2], "--device", "cpu"))
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [p for p, _ in lines] == [str(p) for p in found]
    assert lines[1][1] == lines[3][1]  # x.flac holds the samples of wavs[2]


def test_file_ids_are_single_tokens_and_distinct() -> None:
    paths = ["a b.wav", "a_b.wav", "a%20b.wav", "dir/x\ty.wav", "é.wav"]
    ids = [file_id(p) for p in paths]
    assert ids == ["a%20b.wav", "a_b.wav", "a%2520b.wav", "dir/x%09y.wav", "é.wav"]
    assert len(set(ids)) == len(ids) and all(len(i.split()) == 1 for i in ids)


def test_every_output_format_reads_back(phone_run: dict[str, Path], tmp_path: Path) -> None:
    wavs = [u.source for u in read_manifest(phone_run["dev"])]
    spaced = tmp_path / "with space.wav"
    shutil.copy(wavs[0], spaced)
    inputs = [*wavs, str(spaced)]
    results = api.transcribe(phone_run["checkpoint"], inputs, device="cpu", out=tmp_path / "o.jsonl", format="jsonl",
                             ctm=tmp_path / "o.ctm")
    texts = {r.path: r.text for r in results}
    records = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["path"] for r in records] == inputs
    assert {r["path"]: r["text"] for r in records} == texts
    for r, t in zip(records, results):
        assert r["id"] == t.id and r["tokens"] == list(t.hypothesis.tokens) and r["words"] == []  # phone model
        assert r["score"] == pytest.approx(t.hypothesis.score, abs=1e-4)
    ctm = read_ctm(tmp_path / "o.ctm")
    assert [e.token for e in ctm] == [tok for t in results for tok in t.hypothesis.tokens]
    assert {e.utt for e in ctm} <= {t.id for t in results} and file_id(str(spaced)).endswith("/with%20space.wav")
    for fmt in ("text", "kaldi"):
        api.transcribe(phone_run["checkpoint"], inputs, device="cpu", out=tmp_path / fmt, format=fmt)
    text_lines = [line.split("\t") for line in (tmp_path / "text").read_text(encoding="utf-8").splitlines()]
    assert dict(text_lines) == texts
    assert read_kaldi_text(tmp_path / "kaldi") == {t.id: list(t.hypothesis.tokens) for t in results}


def test_jsonl_words_of_a_character_model(image_run: dict[str, Path], tmp_path: Path) -> None:
    images = [u.source for u in read_manifest(image_run["dev"])]
    api.transcribe(image_run["checkpoint"], images, device="cpu", out=tmp_path / "o.jsonl", format="jsonl")
    for line in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        assert [w["word"] for w in record["words"]] == record["text"].split()
        assert all(0 <= w["start"] <= w["end"] and 0 <= w["confidence"] <= 1 for w in record["words"])


def test_unreadable_files_are_named_and_the_others_transcribed(phone_run: dict[str, Path], tmp_path: Path) -> None:
    wavs = [u.source for u in read_manifest(phone_run["dev"])]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt nonsense")
    result = refused(invoke("transcribe", phone_run["checkpoint"], wavs[0], broken, wavs[1], "--device", "cpu"),
                     "1 of 3 files could not be transcribed")
    assert f"skipped {broken}: cannot read audio file" in result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [wavs[0], wavs[1]]


def test_outputs_are_checked_before_the_model_runs(phone_run: dict[str, Path], tmp_path: Path) -> None:
    wav = read_manifest(phone_run["dev"])[0].source
    refused(invoke("transcribe", phone_run["checkpoint"], wav, "--out", tmp_path), "is a folder")
    before = Path(wav).read_bytes()
    refused(invoke("transcribe", phone_run["checkpoint"], wav, "--ctm", wav), "is one of the inputs")
    assert Path(wav).read_bytes() == before
    refused(invoke("transcribe", phone_run["checkpoint"], wav, "--ctm", tmp_path / "c", "--ctm-level", "word"),
            "word-level CTM needs character tokens")


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_array_api_equals_file_api_for_audio(phone_run: dict[str, Path], decoder: str) -> None:
    rec = Recognizer.from_checkpoint(phone_run["checkpoint"], "cpu", [f"decode.decoder={decoder}"])
    for utt in read_manifest(phone_run["dev"]):
        (from_file,) = api.transcribe(phone_run["checkpoint"], [utt.source], decoder, device="cpu")
        samples, rate = soundfile.read(utt.source, dtype="float32")
        pcm, _ = soundfile.read(utt.source, dtype="int16")
        for hyp in (rec.transcribe_array(samples, rate), rec.transcribe_array(pcm, rate),
                    rec.transcribe_array(np.stack([samples, -samples], axis=1), rate)):
            assert hyp.tokens == from_file.hypothesis.tokens
            assert hyp.score == pytest.approx(from_file.hypothesis.score, abs=1e-4)
            assert hyp.timesteps == from_file.hypothesis.timesteps


def test_array_api_resamples_or_refuses(phone_run: dict[str, Path]) -> None:
    import torch
    import torchaudio

    rec = Recognizer.from_checkpoint(phone_run["checkpoint"], "cpu")
    utt = read_manifest(phone_run["dev"])[0]
    samples, rate = soundfile.read(utt.source, dtype="float32")
    doubled = torchaudio.functional.resample(torch.from_numpy(samples), rate, 2 * rate)
    expected = rec.transcribe_array(torchaudio.functional.resample(doubled, 2 * rate, rate), rate)
    assert rec.transcribe_array(doubled, 2 * rate).tokens == expected.tokens
    strict = replace(rec, config=replace(rec.config, features=replace(rec.config.features, resample=False)))
    with pytest.raises(DataError, match=rf"sampled at {2 * rate} Hz but features.sample_rate is {rate} Hz"):
        strict.transcribe_array(doubled, 2 * rate)
    with pytest.raises(ConfigError, match="reads fbank features: use Recognizer.transcribe_array"):
        rec.transcribe_image(np.zeros((8, 8)))
    with pytest.raises(DataError, match="expected samples of shape"):
        rec.transcribe_array(np.zeros((2, 3, 4)), rate)


def test_array_api_equals_file_api_for_images(image_run: dict[str, Path]) -> None:
    from PIL import Image

    rec = Recognizer.from_checkpoint(image_run["checkpoint"], "cpu")
    for utt in read_manifest(image_run["dev"]):
        (from_file,) = api.transcribe(image_run["checkpoint"], [utt.source], device="cpu")
        with Image.open(utt.source) as im:
            grey = np.asarray(im.convert("L"))
            rgb = np.asarray(im.convert("RGB"))
            for image in (im, grey, rgb, grey.astype(np.float32) / 255):
                hyp = rec.transcribe_image(image)
                assert hyp.tokens == from_file.hypothesis.tokens
                assert hyp.score == pytest.approx(from_file.hypothesis.score, abs=1e-4)
    with pytest.raises(DataError, match=r"float grey levels must lie in \[0, 1\].*the largest is 200"):
        rec.transcribe_image(np.full((8, 20), 200.0))  # 0-255 levels as floats: refused, not clipped to white


def test_speaker_normalisation_per_file_or_together(phone_run: dict[str, Path]) -> None:
    """A features.cmvn: speaker model normalises each file by itself, or with --same-speaker all files
    together: what a manifest with one speaker per file, or one speaker for all, gives."""
    from seqlabel.inference.transcribe import transcribe_files
    from seqlabel.types import Utterance

    rec = Recognizer.from_checkpoint(phone_run["checkpoint"], "cpu")
    rec = replace(rec, config=replace(rec.config, features=replace(rec.config.features, cmvn="speaker")))
    files = [Path(u.source) for u in read_manifest(phone_run["dev"])]
    for same, speaker in ((False, None), (True, "one")):
        utts = [Utterance(file_id(str(f)), str(f), "", speaker=speaker or file_id(str(f))) for f in files]
        expected = rec.transcribe(utts)
        got = list(transcribe_files(rec, files, same_speaker=same))
        assert [t.hypothesis.tokens for t in got] == [h.tokens for h in expected]
        assert [t.hypothesis.score for t in got] == pytest.approx([h.score for h in expected], abs=1e-4)
    alone = [t.hypothesis.score for t in transcribe_files(rec, files)]
    together = [t.hypothesis.score for t in transcribe_files(rec, files, same_speaker=True)]
    assert alone != pytest.approx(together, abs=1e-3)  # the two normalisations differ on these files


def test_array_api_equals_file_api_for_strokes_and_features(tmp_path: Path, bad_input_base) -> None:
    from stroke_fixtures import handwriting

    from seqlabel.features.strokes import read_strokes, write_json, write_npz

    texts = {"l0.json": ("minimum",), "l1.json": ("loop",), "l2.json": ("mum", "loop"), "l3.npz": ("lip",)}
    for i, (name, words) in enumerate(texts.items()):
        (write_npz if name.endswith(".npz") else write_json)(tmp_path / name, handwriting(seed=i, words=words))
    rows = [{"id": f"l{i}", "source": str(tmp_path / name), "text": " ".join(words)}
            for i, (name, words) in enumerate(texts.items())]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = config_from_data({
        "data": {"train": str(tmp_path / "train.jsonl")}, "features": {"type": "strokes", "cmvn": "global"},
        "model": {"num_layers": 1, "hidden_size": 8},
        "train": {"max_epochs": 1, "batch_frames": 5000, "progress": False, "tensorboard": False, "device": "cpu"}})
    checkpoint = api.train(config, tmp_path / "exp", echo=lambda _: None).best_checkpoint
    (tmp_path / "notes.txt").write_text("not strokes")
    results = api.transcribe(checkpoint, [tmp_path], device="cpu")
    assert [Path(r.path).name for r in results] == list(texts)
    rec = Recognizer.from_checkpoint(checkpoint, "cpu")
    for r in results:
        hyp = rec.transcribe_strokes(read_strokes(r.path))
        assert hyp.tokens == r.hypothesis.tokens and hyp.score == pytest.approx(r.hypothesis.score, abs=1e-4)
    rec = Recognizer.from_checkpoint(bad_input_base.checkpoint, "cpu")
    for name in ("u0.npy", "u3.npy"):
        (from_file,) = api.transcribe(bad_input_base.checkpoint, [bad_input_base.root / name], device="cpu")
        hyp = rec.transcribe_features(np.load(bad_input_base.root / name))
        assert hyp.tokens == from_file.hypothesis.tokens
        assert hyp.score == pytest.approx(from_file.hypothesis.score, abs=1e-4)
