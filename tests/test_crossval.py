"""Cross-validation by speaker (``seqlabel crossval``): speaker-disjoint folds that cover every speaker
once, a dev set carved from each fold's training speakers, a tiny end-to-end run whose summary equals
its folds' own scores, and an interrupted run that continues with the folds not done."""
from __future__ import annotations

import json
import logging
import shutil
import statistics
from collections import Counter
from pathlib import Path

import pytest
import yaml
from helpers import TONE_RATE, invoke, ok, refused, tone_corpus

from seqlabel.data.manifest import read_manifest, speaker_of
from seqlabel.errors import ConfigError
from seqlabel.training.crossval import speaker_folds, split_dev
from seqlabel.types import Utterance

TEXTS = ["ab", "ba", "ca", "abc", "cab", "bca", "cc ab", "aa", "bb", "ac", "cb", "abca", "bac", "cba", "acb", "bb a"]


def utts(counts: dict[str, int]) -> list[Utterance]:
    return [Utterance(f"{spk}-{i}", "x.wav", "a", spk) for spk, n in counts.items() for i in range(n)]


def test_folds_are_speaker_disjoint_cover_every_speaker_once_and_are_balanced() -> None:
    counts = {"ann": 50, "bob": 10, "cy": 30, "dee": 20, "eve": 40, "fay": 10, "gus": 25}
    pool = utts(counts)
    for k in (2, 3, 7):
        groups = speaker_folds(pool, k, seed=3)
        assert len(groups) == k
        assert sorted(s for g in groups for s in g) == sorted(counts)  # each speaker exactly once
        sizes = [sum(counts[s] for s in g) for g in groups]
        assert max(sizes) - min(sizes) <= max(counts.values())  # greedy balance: within one speaker's share
        assert groups == speaker_folds(pool, k, seed=3)  # deterministic for a seed
    assert [len(g) for g in speaker_folds(pool, 7, seed=3)] == [1] * 7  # K = speakers: leave one speaker out
    ties = utts({s: 10 for s in "abcdef"})
    assert speaker_folds(ties, 3, seed=1) != speaker_folds(ties, 3, seed=2)  # the seed decides between equals
    with pytest.raises(ConfigError, match="--folds 8 is more than the 7 speakers"):
        speaker_folds(pool, 8, seed=0)


def test_each_training_speaker_gives_a_fraction_of_its_utterances_to_dev() -> None:
    pool = utts({"ann": 40, "bob": 3, "cy": 1})
    train, dev = split_dev(pool, 0.1, seed=0)
    per_speaker = Counter(speaker_of(u) for u in dev)
    assert per_speaker == {"ann": 4, "bob": 1}  # at least one, never all (cy keeps its only utterance)
    assert sorted(u.id for u in train + dev) == sorted(u.id for u in pool) and not {u.id for u in train} & {
        u.id for u in dev}
    train, dev = split_dev(pool, 0.1, seed=0, speakers=1)  # or whole speakers: dev speakers are unseen too
    assert len({speaker_of(u) for u in dev}) == 1 and not {speaker_of(u) for u in train} & {speaker_of(u) for u in dev}
    assert len(train) + len(dev) == len(pool)
    with pytest.raises(ConfigError, match="--dev-speakers 3 leaves no training speaker"):
        split_dev(pool, 0.1, seed=0, speakers=3)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tones")
    speakers = ("s1", "s2", "s3")
    data = {
        "data": {"train": str(tone_corpus(root, TEXTS, "tr", speakers)),
                 "dev": str(tone_corpus(root, TEXTS[:6], "dv", ("s4",), seed=1)),
                 "test": str(tone_corpus(root, TEXTS[:4], "te", ("s9",), seed=2))},
        "features": {"type": "fbank", "sample_rate": TONE_RATE, "num_bins": 20, "cmvn": "global"},
        "model": {"num_layers": 1, "hidden_size": 8},
        "train": {"lr": 0.05, "max_epochs": 2, "batch_frames": 300, "max_batch_size": 4, "progress": False,
                  "tensorboard": False, "device": "cpu", "amp": "off", "threads": 1, "early_stop_patience": 0},
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def fold_scores(out: Path, k: int) -> dict:
    return json.loads((out / f"fold-{k}" / "test" / "summary.json").read_text(encoding="utf-8"))["tokens"]


def test_a_tiny_crossval_end_to_end(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "cv"
    result = ok(invoke("crossval", config, "--folds", 2, "--out", out))
    assert "fold 1 of 2: holding out" in result.output and "fold 2 of 2: holding out" in result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    held = [set(f["speakers"]) for f in summary["folds"]]
    assert held[0].isdisjoint(held[1]) and held[0] | held[1] == {"s1", "s2", "s3", "s4"}  # not s9: data.test
    for k, fold in enumerate(summary["folds"], 1):
        manifests = {name: read_manifest(out / f"fold-{k}" / f"{name}.jsonl") for name in ("train", "dev", "test")}
        assert {speaker_of(u) for u in manifests["test"]} == set(fold["speakers"])
        assert not {speaker_of(u) for u in manifests["train"] + manifests["dev"]} & set(fold["speakers"])
        own = fold_scores(out, k)  # what the fold's evaluation wrote
        assert (fold["tokens"]["substitutions"], fold["tokens"]["deletions"], fold["tokens"]["insertions"],
                fold["tokens"]["ref_tokens"]) == (own["substitutions"], own["deletions"], own["insertions"],
                                                  own["ref_tokens"])
        assert fold["tokens"]["rate"] == pytest.approx(own["rate"])
    rates = [f["tokens"]["rate"] for f in summary["folds"]]
    tokens = summary["tokens"]
    assert tokens["mean"] == pytest.approx(statistics.fmean(rates))
    assert tokens["std"] == pytest.approx(statistics.stdev(rates))
    assert tokens["worst"] == max(rates) and tokens["worst_fold"] == 1 + rates.index(max(rates))
    errors = sum(f["tokens"]["substitutions"] + f["tokens"]["deletions"] + f["tokens"]["insertions"]
                 for f in summary["folds"])
    refs = sum(f["tokens"]["ref_tokens"] for f in summary["folds"])
    assert (tokens["pooled_errors"], tokens["pooled_ref_tokens"]) == (errors, refs)
    assert tokens["pooled"] == pytest.approx(errors / refs)
    assert tokens["pooled_ci"]["low"] <= tokens["pooled"] <= tokens["pooled_ci"]["high"]
    assert f"pooled {100 * errors / refs:.2f}%" in result.output
    assert (out / "summary.txt").read_text(encoding="utf-8").strip() in result.output

    # interrupted in fold 2 after its training: the rerun skips fold 1 and resumes fold 2 from its last.pt
    shutil.rmtree(out / "fold-2" / "test")
    (out / "fold-2" / "done.json").unlink()
    again = ok(invoke("crossval", config, "--folds", 2, "--out", out))
    assert "fold 1 of 2: done before" in again.output and "fold 2 of 2: holding out" in again.output
    assert "resumed from" in again.output
    assert json.loads((out / "summary.json").read_text(encoding="utf-8")) == summary
    refused(invoke("crossval", config, "--folds", 2, "--out", out, "-o", "train.lr=0.01"),
            "holds a cross-validation with other settings (config differ)")


def test_the_pool_can_be_named_and_is_checked(config: Path, tmp_path: Path) -> None:
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    refused(invoke("crossval", config, "--folds", 5, "--out", tmp_path / "a"), "--folds 5 is more than the 4 speakers")
    refused(invoke("crossval", config, "--folds", 2, "--out", tmp_path / "b", "--pool", settings["data"]["train"],
                   "--pool", settings["data"]["train"]), "holds utterance ids twice")
    refused(invoke("crossval", config, "--folds", 2, "--out", tmp_path / "c", "--pool", settings["data"]["test"]),
            "--folds 2 is more than the 1 speakers")
    refused(invoke("crossval", config, "--folds", 2, "--out", tmp_path / "d", "--dev-speakers", 2),
            "--dev-speakers 2 leaves no training speaker")
    rows = [json.loads(line) for line in Path(settings["data"]["train"]).read_text(encoding="utf-8").splitlines()]
    anonymous = tmp_path / "anonymous.jsonl"  # no speaker field: the ids' prefixes are not taken for speakers
    anonymous.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "speaker"} |
                                            {"source": str(Path(settings["data"]["train"]).parent / r["source"])})
                                 + "\n" for r in rows), encoding="utf-8")
    refused(invoke("crossval", config, "--folds", 2, "--out", tmp_path / "e", "--pool", anonymous),
            f"{len(rows)} of {len(rows)} utterances", "no `speaker` field", "data.speaker_from_id: true")
    assert not (tmp_path / "e").exists()


def test_chosen_folds_only_and_a_summary_of_the_folds_done(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "cv"
    refused(invoke("crossval", config, "--folds", 2, "--out", out, "--fold", 3), "--fold 3 is not a fold of 2")
    second = ok(invoke("crossval", config, "--folds", 2, "--out", out, "--fold", 2))
    assert "fold 2 of 2: holding out" in second.output and "fold 1 of 2" not in second.output
    assert not (out / "fold-1").exists() and "the summary covers 1 of 2 folds: 2" in second.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [f["fold"] for f in summary["folds"]] == [2] and summary["tokens"]["worst_fold"] == 2
    claim = json.loads((out / "crossval.json").read_text(encoding="utf-8"))
    del claim["config"]["data"]["extra_train"]  # as written by a seqlabel without that key: its default
    (out / "crossval.json").write_text(json.dumps(claim), encoding="utf-8")
    both = ok(invoke("crossval", config, "--folds", 2, "--out", out, "--fold", 1))  # e.g. on another machine
    assert "fold 1 of 2: holding out" in both.output and "fold 2 of 2" not in both.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [f["fold"] for f in summary["folds"]] == [1, 2] and "the summary covers" not in both.output
    held = [set(f["speakers"]) for f in summary["folds"]]
    assert held[0].isdisjoint(held[1]) and held[0] | held[1] == {"s1", "s2", "s3", "s4"}


def test_extra_training_data_joins_every_fold_and_is_never_held_out(config: Path, tmp_path: Path) -> None:
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    train, extra = settings["data"]["train"], settings["data"]["dev"]  # speakers s1-s3; s4 (6 utterances)
    out = tmp_path / "cv"
    result = ok(invoke("crossval", config, "--folds", 3, "--out", out, "--pool", train, "--fold", 1,
                       "-o", f"data.extra_train=[{json.dumps(extra)}]"))
    fold = {name: read_manifest(out / "fold-1" / f"{name}.jsonl") for name in ("train", "dev", "test")}
    assert "s4" not in {speaker_of(u) for part in fold.values() for u in part}  # never held out nor dev
    assert "(+ 6 of data.extra_train)" in result.output
    assert f"train: {len(fold['train']) + 6} utterances" in result.output  # the fold trained on them
    refused(invoke("crossval", config, "--folds", 2, "--out", tmp_path / "b", "-o", f"data.extra_train=[{json.dumps(extra)}]"),
            "data.extra_train", "the pool share utterance id(s) ['s4-dv0'")  # the default pool: train + dev
    renamed = tmp_path / "renamed.jsonl"  # s4's utterances under new ids: still s4
    renamed.write_text("".join(line.replace('"id": "', '"id": "x') for line in Path(extra).open(encoding="utf-8")),
                       encoding="utf-8")
    refused(invoke("crossval", config, "--folds", 2, "--out", tmp_path / "b", "-o", f"data.extra_train=[{json.dumps(str(renamed))}]"),
            "the pool share speaker(s) ['s4']", "held-out speakers would be trained on")
    refused(invoke("train", config, "--out", tmp_path / "c", "-o", f"data.extra_train=[{json.dumps(train)}]"),
            "is in both", "each training utterance must come from one manifest")
    refused(invoke("train", config, "--out", tmp_path / "d", "-o", "data.extra_train=data/x.jsonl"),
            "data.extra_train must be a list of manifest paths")


def test_training_on_utterances_of_the_test_set_is_warned(config: Path, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Self-training puts pseudo-labelled test utterances into data.extra_train on purpose; the run says that
    its test scores are then not on held-out data (and would say it of references trained on by mistake)."""
    test = yaml.safe_load(config.read_text(encoding="utf-8"))["data"]["test"]  # 4 utterances of speaker s9
    caplog.set_level(logging.WARNING, logger="seqlabel")
    ok(invoke("train", config, "--out", tmp_path / "run", "-o", f"data.extra_train=[{json.dumps(test)}]",
              "-o", "train.max_epochs=1"))
    assert "4 training utterance(s) are also in data.test (e.g. 's9-te0')" in caplog.text
    assert "also in data.dev" not in caplog.text


def test_a_fold_another_run_finishes_meanwhile_is_in_the_summary(config: Path, tmp_path: Path) -> None:
    """Two runs sharing --out (--fold 2 here, --fold 1 elsewhere): the summary of the run that ends last
    covers both folds, though the other fold finished only while this run was training."""
    from seqlabel.config import load_config
    from seqlabel.data.transcripts import write_kaldi_text
    from seqlabel.training.crossval import run_crossval

    out = tmp_path / "cv"

    def fake_train(cfg, fold_dir: Path, resume: bool) -> None:  # "transcribes" every held-out utterance right
        utts = read_manifest(cfg.data.test)
        (fold_dir / "test").mkdir(parents=True)
        for name in ("ref.txt", "hyp.txt"):
            write_kaldi_text(fold_dir / "test" / name, [(u.id, list(u.text.replace(" ", "|"))) for u in utts])
        if fold_dir.name == "fold-2":  # meanwhile, the other run finishes fold 1
            shutil.copytree(fold_dir / "test", out / "fold-1" / "test")
            (out / "fold-1" / "done.json").write_text("{}\n", encoding="utf-8")

    report = run_crossval(load_config(config), out, 2, fake_train, only=[2])
    assert [f.fold for f in report.folds] == [1, 2]
    assert [f["fold"] for f in json.loads((out / "summary.json").read_text(encoding="utf-8"))["folds"]] == [1, 2]


def test_a_fold_another_run_is_training_is_refused_and_kept(config: Path, tmp_path: Path) -> None:
    """Two runs sharing --out that chose the same fold: the second stops, and deletes nothing of the first's
    (before its first checkpoint, a fold folder is otherwise started afresh)."""
    from seqlabel.training.lock import RunLock

    out = tmp_path / "cv"
    fold = out / "fold-1"
    fold.mkdir(parents=True)
    (fold / "train.jsonl").write_text("the other run's\n", encoding="utf-8")
    with RunLock(fold):  # the other run, in its first epoch
        refused(invoke("crossval", config, "--folds", 2, "--out", out, "--fold", 1), "is in use by another training")
    assert (fold / "train.jsonl").read_text(encoding="utf-8") == "the other run's\n"
