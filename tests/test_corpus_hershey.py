"""The Hershey online-handwriting corpus recipe (a tiny corpus) and a short training run through the
strokes pipeline with the same CLI commands as speech."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner, Result

import seqlabel.corpora.hershey as hershey
from seqlabel.cli import main
from seqlabel.corpora import run_recipe
from seqlabel.data.manifest import read_manifest
from seqlabel.errors import DataError
from seqlabel.features.strokes import read_strokes
from seqlabel.types import Utterance

SIZES = {"num_train": 8, "num_dev": 2, "num_test": 3, "train_writers": 4, "dev_writers": 1, "test_writers": 2}


def _prepare(out_dir: Path, **options) -> dict[str, list[Utterance]]:
    paths = run_recipe("hershey", None, out_dir, {**SIZES, **options})
    return {split: read_manifest(path) for split, path in paths.items()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Utterance]]]:
    out_dir = tmp_path_factory.mktemp("hershey")
    return out_dir, _prepare(out_dir)


def test_manifests_sizes_and_texts(corpus) -> None:
    out_dir, splits = corpus
    assert {split: len(utts) for split, utts in splits.items()} == {"train": 8, "dev": 2, "test": 3}
    for utt in (u for utts in splits.values() for u in utts):
        assert re.fullmatch(r"[a-z]{3,8}( [a-z]{3,8}){1,3}", utt.text), utt.text
        assert utt.id.startswith(utt.speaker + "-")
    assert (out_dir / "writers.tsv").read_text().splitlines()[0].split("\t")[:3] == ["name", "font", "slant"]


def test_writers_are_disjoint_across_splits_and_use_both_fonts(corpus) -> None:
    out_dir, splits = corpus
    writers = {split: {u.speaker for u in utts} for split, utts in splits.items()}
    assert len(writers["train"]) == 4 and len(writers["dev"]) == 1 and len(writers["test"]) == 2
    assert not writers["train"] & writers["test"] and not writers["train"] & writers["dev"]
    assert not writers["dev"] & writers["test"]
    fonts = dict(line.split("\t")[:2] for line in (out_dir / "writers.tsv").read_text().splitlines()[1:])
    assert {fonts[w] for w in writers["test"]} == set(hershey.FONTS)


def test_stroke_files_are_readable_and_match_the_durations(corpus) -> None:
    out_dir, splits = corpus
    for utt in (u for utts in splits.values() for u in utts):
        path = Path(utt.source)
        assert path.parent == out_dir / "strokes" / utt.speaker and path.suffix == ".json"
        strokes = read_strokes(path)
        t = np.concatenate(strokes)[:, 2]
        assert (np.diff(t) > 0).all()  # time runs on, across pen-ups too
        assert t[-1] - t[0] == pytest.approx(utt.duration, abs=2e-3)


def test_the_same_seed_gives_the_same_corpus_and_npz_the_same_lines(corpus, tmp_path: Path) -> None:
    out_dir, splits = corpus
    again = _prepare(tmp_path / "again")
    assert [u.text for u in again["train"]] == [u.text for u in splits["train"]]
    first = splits["train"][0]
    assert (tmp_path / "again" / "strokes" / first.speaker / Path(first.source).name).read_bytes() == \
        Path(first.source).read_bytes()
    npz = _prepare(tmp_path / "npz", format="npz")
    assert [u.text for u in npz["test"]] == [u.text for u in splits["test"]]
    a, b = read_strokes(npz["test"][0].source), read_strokes(splits["test"][0].source)
    assert len(a) == len(b) and all(np.allclose(x, y, atol=0.01) for x, y in zip(a, b))
    other = _prepare(tmp_path / "other", seed=1)
    assert [u.text for u in other["train"]] != [u.text for u in splits["train"]]


def test_joined_letters_are_one_stroke() -> None:
    writer = hershey.make_writers(1, 0)[0]
    assert writer.font == "cursive"
    rng = np.random.default_rng(0)
    assert len(hershey.layout_line(["bee"], writer, rng)) == 1  # b, e, e join in the cursive font
    assert len(hershey.layout_line(["bee", "bee"], writer, rng)) == 2  # the pen lifts between words


@pytest.mark.parametrize("options, message", [
    ({"format": "png"}, "format must be json or npz"),
    ({"num_train": 0}, "num_train must be > 0"),
    ({"test_writers": 0}, "test_writers > 0"),
])
def test_bad_options_are_refused(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        _prepare(tmp_path, **options)


# ----------------------------------------------------------------------------- train / evaluate / decode


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def test_train_evaluate_decode_through_the_strokes_pipeline(corpus, tmp_path: Path) -> None:
    out_dir, _ = corpus
    config = {
        "data": {"train": str(out_dir / "train.jsonl"), "dev": str(out_dir / "dev.jsonl"), "unit": "char",
                 "vocab": str(out_dir / "tokens.txt")},
        "features": {"type": "strokes", "cmvn": "global", "strokes": {"step": 0.4, "augment": True}},
        "model": {"num_layers": 1, "hidden_size": 16, "frame_stacking": 2, "subsampling": 2},
        "train": {"lr": 0.01, "max_epochs": 2, "batch_frames": 3000, "max_batch_size": 4, "progress": False,
                  "tensorboard": False, "device": "cpu", "amp": "off", "early_stop_patience": 0, "seed": 3},
    }
    path = tmp_path / "online.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    run = tmp_path / "run"
    result = invoke("train", path, "--out", run)
    assert result.exit_code == 0, result.output
    assert "15-dim features" in result.output and (run / "best.pt").is_file()
    assert len((run / "log.csv").read_text().splitlines()) == 3  # header + 2 epochs
    result = invoke("evaluate", run / "best.pt", out_dir / "test.jsonl", "--out", tmp_path / "eval", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "CER" in result.output
    hyp = tmp_path / "hyp.txt"
    result = invoke("decode", run / "best.pt", out_dir / "test.jsonl", "--out", hyp, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert len(hyp.read_text().splitlines()) == 3


def test_a_missing_stroke_file_stops_training_naming_the_utterance(corpus, tmp_path: Path) -> None:
    out_dir, splits = corpus
    utt = splits["train"][0]
    manifest = tmp_path / "train.jsonl"
    manifest.write_text(f'{{"id": "{utt.id}", "source": "{tmp_path}/gone.json", "text": "{utt.text}"}}\n')
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"data": {"train": str(manifest)}, "features": {"type": "strokes"},
                                      "train": {"device": "cpu", "progress": False, "tensorboard": False}}))
    result = invoke("train", config, "--out", tmp_path / "run")
    assert result.exit_code != 0
    assert utt.id in result.output and "gone.json" in result.output and "Traceback" not in result.output
