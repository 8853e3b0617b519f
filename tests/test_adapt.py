"""Batch-norm adaptation to a new manuscript or speaker (seqlabel/inference/adapt.py, AdaBN): the adapted
statistics are exactly those of the new inputs' real frames (each layer after the layers before it are
adapted), whatever the batching and padding; ``weight`` mixes; the trained statistics come back after a
``with``; ``seqlabel adapt`` writes a checkpoint that differs only there and says where it came from;
``evaluate/decode/tune/align --adapt-norms`` equal adapting to each speaker alone; models without batch norm
are refused.

The trained model is tiny: precomputed one-hot features (.npy) and a two-block CNN with batch norm.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import invoke, ok, refused

from seqlabel import api
from seqlabel.config import ModelConfig, config_from_data
from seqlabel.data.manifest import read_manifest
from seqlabel.errors import ConfigError, DataError
from seqlabel.inference.adapt import adapt_norms, adapted_norms, norm_blocks
from seqlabel.inference.recognizer import Recognizer
from seqlabel.models.bilstm import build_model
from seqlabel.models.checkpoint import load_checkpoint

DIM = 8
BLOCK = {"kernel": 3, "height_pool": 2, "time_pool": 1, "batch_norm": True, "activation": "leakyrelu"}
MODEL = {"num_layers": 1, "hidden_size": 8, "cnn_blocks": [{"channels": 3, **BLOCK}, {"channels": 4, **BLOCK}]}
TRAIN = {"lr": 0.05, "batch_frames": 40, "max_batch_size": 3, "progress": False, "tensorboard": False,
         "device": "cpu", "amp": "off", "threads": 1, "early_stop_patience": 0, "seed": 3, "max_epochs": 2}
TEXTS = ["ab", "ba", "ca", "abc", "cab", "bca", "cc ab", "aa", "bb", "ac"]


def bn_model(blocks: int = 2, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(DIM, 5, config_from_data({"model": {**MODEL, "cnn_blocks": MODEL["cnn_blocks"][:blocks]}}).model)


def random_features(lengths: list[int], seed: int, scale: float = 1.0, shift: float = 0.0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, DIM, generator=g) * scale + shift for n in lengths]


def direct_statistics(model, features: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per norm block: mean and unbiased variance of its conv outputs over the real positions of every item
    run alone, with the blocks before it in eval mode (their running statistics as they stand)."""
    out = []
    model.eval()
    with torch.no_grad():
        for k, target in enumerate(model.cnn.blocks):
            values = []
            for f in features:
                y, lengths = f.T.reshape(1, 1, DIM, -1), torch.tensor([f.shape[0]])
                for block in model.cnn.blocks[:k]:
                    y, lengths = block(y, lengths)
                z = target.conv(y).double()  # (1, K, H, T)
                values.append(z.permute(1, 0, 2, 3).reshape(z.shape[1], -1))
            v = torch.cat(values, dim=1)  # (K, positions)
            out.append((v.mean(dim=1), v.var(dim=1, unbiased=True)))
            target.norm.running_mean.copy_(out[-1][0].float())  # as adaptation leaves them for the next block
            target.norm.running_var.copy_(out[-1][1].float())
    return out


def statistics(model) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(b.norm.running_mean.clone(), b.norm.running_var.clone()) for b in norm_blocks(model)]


@pytest.mark.parametrize("batch_frames, max_batch_size", [(50000, 64), (1, 1), (30, 2)])
def test_adapted_statistics_are_those_of_the_real_frames_whatever_the_batching(batch_frames, max_batch_size) -> None:
    features = random_features([7, 3, 12, 1, 9], seed=1, scale=2.5, shift=0.7)
    expected = direct_statistics(bn_model(), features)
    model = bn_model()
    before = statistics(model)
    assert adapt_norms(model, features, torch.device("cpu"), batch_frames=batch_frames,
                       max_batch_size=max_batch_size) == 2
    for (mean, var), (want_mean, want_var), (old_mean, _) in zip(statistics(model), expected, before):
        torch.testing.assert_close(mean.double(), want_mean, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(var.double(), want_var, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(mean, old_mean)  # the inputs were far from the trained statistics (0, 1)


def test_the_weight_mixes_old_and_new_and_zero_keeps_the_trained_statistics() -> None:
    features = random_features([6, 4, 9], seed=2, scale=3.0)
    full, half, none = bn_model(), bn_model(), bn_model()
    old = statistics(none)
    adapt_norms(full, features, torch.device("cpu"), weight=1.0)
    adapt_norms(none, features, torch.device("cpu"), weight=0.0)
    for (mean, var), (old_mean, old_var) in zip(statistics(none), old):
        assert torch.equal(mean, old_mean) and torch.equal(var, old_var)
    # one block: its new statistics do not depend on the weight, so the mix is exactly halfway
    one_full, one_half = bn_model(blocks=1), bn_model(blocks=1)
    start = statistics(one_half)[0]
    adapt_norms(one_full, features, torch.device("cpu"), weight=1.0)
    adapt_norms(one_half, features, torch.device("cpu"), weight=0.5)
    for new, mixed, original in zip(statistics(one_full)[0], statistics(one_half)[0], start):
        torch.testing.assert_close(mixed, 0.5 * new + 0.5 * original)
    with pytest.raises(ConfigError, match=r"weight must be in \[0, 1\], got 1.5"):
        adapt_norms(half, features, torch.device("cpu"), weight=1.5)
    with pytest.raises(DataError, match="no utterances"):
        adapt_norms(half, [], torch.device("cpu"))


def test_adapted_norms_restores_the_trained_statistics_and_outputs() -> None:
    model = bn_model().eval()
    features = random_features([8, 5], seed=3, scale=4.0, shift=-1.0)
    x = torch.nn.utils.rnn.pad_sequence(features, batch_first=True)
    lengths = torch.tensor([8, 5])
    with torch.no_grad():
        before, _ = model(x, lengths)
        with adapted_norms(model, features, torch.device("cpu")):
            inside, _ = model(x, lengths)
        after, _ = model(x, lengths)
    assert torch.equal(before, after)
    assert not torch.allclose(before, inside, atol=1e-3)
    assert not model.training


def test_a_model_without_batch_norm_is_refused() -> None:
    torch.manual_seed(0)
    plain = build_model(DIM, 5, ModelConfig(num_layers=1, hidden_size=8))
    with pytest.raises(ConfigError, match="no batch norm to adapt.*batch_norm: true"):
        adapt_norms(plain, random_features([4], seed=0), torch.device("cpu"))


# ----------------------------------------------------------------------------- a trained checkpoint
def write_corpus(root: Path, texts: list[str], prefix: str, speaker: str, scale: float = 1.0,
                 shift: float = 0.0) -> list[dict]:
    """Each character: 3 frames of its one-hot pattern, a space 2 silent frames; scaled, shifted, noisy."""
    rng = np.random.default_rng(len(prefix) + len(texts))
    patterns = {c: np.eye(DIM, dtype=np.float32)[i] * 2.0 for i, c in enumerate("abc")}
    rows = []
    for i, text in enumerate(texts):
        frames = [np.zeros((2, DIM), np.float32) if c == " " else np.tile(patterns[c], (3, 1)) for c in text]
        feats = np.concatenate([np.zeros((1, DIM), np.float32), *frames, np.zeros((1, DIM), np.float32)])
        feats = (feats + 0.1 * rng.standard_normal(feats.shape)) * scale + shift
        np.save(root / f"{prefix}{i}.npy", feats.astype(np.float32))
        rows.append({"id": f"{prefix}{i}", "source": f"{prefix}{i}.npy", "text": text, "speaker": speaker})
    return rows


def write_manifest(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("adapt")
    train = write_manifest(root / "train.jsonl", write_corpus(root, TEXTS, "tr", "s0"))
    dev = write_manifest(root / "dev.jsonl", write_corpus(root, TEXTS[:3], "dv", "s0"))
    a = write_corpus(root, TEXTS[3:7], "na", "inkA", scale=1.8, shift=0.3)  # two "new hands" unlike training
    b = write_corpus(root, TEXTS[:4], "nb", "inkB", scale=0.5, shift=-0.4)
    config = {"data": {"train": str(train), "dev": str(dev)}, "features": {"type": "precomputed", "cmvn": "global"},
              "model": MODEL, "train": TRAIN}
    (root / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    best = api.train(root / "config.yaml", root / "exp", echo=lambda _: None).best_checkpoint
    return {"root": root, "best": best, "new": write_manifest(root / "new.jsonl", [a[0], b[0], a[1], b[1], a[2]]),
            "a": write_manifest(root / "a.jsonl", [a[0], a[1], a[2]]),
            "b": write_manifest(root / "b.jsonl", [b[0], b[1]])}


def test_seqlabel_adapt_writes_a_checkpoint_that_differs_only_in_the_statistics(run: dict, tmp_path: Path) -> None:
    out = tmp_path / "adapted.pt"
    result = ok(invoke("adapt", run["best"], run["a"], "--out", out))
    assert "re-estimated on 3 utterances" in result.output
    old, new = load_checkpoint(run["best"]), load_checkpoint(out)
    changed = {k for k in old["model"] if not torch.equal(old["model"][k], new["model"][k])}
    assert changed == {f"cnn.blocks.{i}.norm.running_{s}" for i in (0, 1) for s in ("mean", "var")}
    assert new["adapted"]["utterances"] == 3 and new["adapted"]["weight"] == 1.0 and new["adapted"]["layers"] == 2
    assert new["adapted"]["checkpoint"] == str(Path(run["best"]).resolve())
    assert new["config"] == old["config"] and new["vocab"] == old["vocab"]


def test_adapt_norms_equals_adapting_to_each_speaker_alone(run: dict, tmp_path: Path) -> None:
    together = Recognizer.from_checkpoint(run["best"], "cpu", adapt_norms=True)
    mixed = dict(zip([json.loads(x)["id"] for x in run["new"].read_text().splitlines()],
                     together.log_probs(read_manifest(run["new"]))))
    plain = Recognizer.from_checkpoint(run["best"], "cpu")
    for name in ("a", "b"):
        api.adapt(run["best"], run[name], tmp_path / f"{name}.pt", progress=False)
        alone = Recognizer.from_checkpoint(tmp_path / f"{name}.pt", "cpu")
        utts = read_manifest(run[name])
        for utt, lp, unadapted in zip(utts, alone.log_probs(utts), plain.log_probs(utts)):
            np.testing.assert_allclose(mixed[utt.id], lp, atol=1e-5)
            assert not np.allclose(lp, unadapted, atol=1e-3)
    assert torch.equal(together.model.cnn.blocks[0].norm.running_mean,
                       plain.model.cnn.blocks[0].norm.running_mean)  # restored after each speaker
    hyps = tmp_path / "hyp.txt"
    ok(invoke("decode", run["best"], run["new"], "--out", hyps, "--adapt-norms"))
    assert len(hyps.read_text().splitlines()) == 5
    assert "CER" in ok(invoke("evaluate", run["best"], run["new"], "--adapt-norms")).output


def test_adapt_norms_refuses_utterances_without_a_speaker_before_guessing_one_from_the_id(run: dict,
                                                                                          tmp_path: Path) -> None:
    rows = [json.loads(line) for line in run["new"].read_text().splitlines()]
    for row, digit in zip(rows, "00771"):  # FSDD-like ids: the prefix is the label said, not the speaker
        row["id"], row["source"] = f"{digit}_{row['speaker']}_{row['id']}", str(run["root"] / row["source"])
        del row["speaker"]
    anonymous = write_manifest(tmp_path / "anonymous.jsonl", rows)
    refused(invoke("evaluate", run["best"], anonymous, "--adapt-norms"), "--adapt-norms", "5 of 5 utterances",
            f"'{rows[0]['id']}'", "seqlabel adapt")
    refused(invoke("decode", run["best"], anonymous, "--out", tmp_path / "hyp.txt", "--adapt-norms"), "no `speaker`")
    assert not (tmp_path / "hyp.txt").exists()
    assert "CER" in ok(invoke("evaluate", run["best"], anonymous)).output  # without adaptation no speaker is needed


def test_models_without_batch_norm_are_refused_by_name(run: dict, tmp_path: Path) -> None:
    config = yaml.safe_load((run["root"] / "config.yaml").read_text())
    config["model"] = {"num_layers": 1, "hidden_size": 8}
    config["train"]["max_epochs"] = 1
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    plain = api.train(tmp_path / "plain.yaml", tmp_path / "exp", echo=lambda _: None).best_checkpoint
    refused(invoke("adapt", plain, run["a"], "--out", tmp_path / "x.pt"), str(plain), "no batch norm to adapt")
    refused(invoke("evaluate", plain, run["a"], "--adapt-norms"), "--adapt-norms", "no batch norm to adapt")
    assert not (tmp_path / "x.pt").exists()
    refused(invoke("adapt", run["best"], run["a"], "--out", tmp_path / "y.pt", "--weight", "2"), "--weight")


def test_transcribe_adapt_norms_adapts_to_all_the_files_together(run: dict, tmp_path: Path) -> None:
    files = [run["root"] / json.loads(line)["source"] for line in run["a"].read_text().splitlines()]
    api.adapt(run["best"], run["a"], tmp_path / "a.pt", progress=False)
    together = api.transcribe(run["best"], files, adapt_norms=True)
    alone = api.transcribe(tmp_path / "a.pt", files)
    plain = api.transcribe(run["best"], files)
    assert [t.hypothesis.tokens for t in together] == [t.hypothesis.tokens for t in alone]
    assert [t.hypothesis.score for t in together] == pytest.approx([t.hypothesis.score for t in alone], abs=1e-4)
    assert [t.hypothesis.score for t in together] != pytest.approx([t.hypothesis.score for t in plain], abs=1e-3)
    result = ok(invoke("transcribe", run["best"], *files, "--adapt-norms"))
    assert len(result.output.strip().splitlines()) == 3
    single = Recognizer.from_checkpoint(run["best"], "cpu", adapt_norms=True)
    with pytest.raises(ConfigError, match="not to one input: adapt a checkpoint first"):
        single.transcribe_features(np.load(files[0]))  # one input: refused, not decoded unadapted


def test_tune_adapt_norms_tunes_on_the_adapted_log_probs_and_says_so(run: dict,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import seqlabel.inference.recognizer as recognizer

    adapted_to = []  # the utterances each adaptation saw: one per speaker (hand) of the manifest

    def spy(model, features, device, weight=1.0):
        adapted_to.append(len(features))
        return adapted_norms(model, features, device, weight)

    monkeypatch.setattr(recognizer, "adapted_norms", spy)
    adapted = api.tune(run["best"], run["new"], [0.5], [0.0, 1.0], adapt_norms=True, progress=False)
    assert sorted(adapted_to) == [2, 3]  # inkB's 2 lines, inkA's 3
    plain = api.tune(run["best"], run["new"], [0.5], [0.0, 1.0], progress=False)
    assert len(adapted_to) == 2
    evaluated = api.evaluate(run["best"], run["new"], progress=False, adapt_norms=True)
    assert adapted.greedy.tokens.errors == evaluated.tokens.total.errors  # the greedy row: evaluate --adapt-norms's
    aligned = api.align(run["best"], run["new"], progress=False, adapt_norms=True)  # forced alignment: the same
    assert len(adapted_to) == 6 and [h.id for h in aligned] == [u.id for u in read_manifest(run["new"])]
    assert [h.score for h in aligned] != pytest.approx([h.score for h in api.align(run["best"], run["new"],
                                                                                  progress=False)], abs=1e-3)
    assert adapted.command().startswith("--adapt-norms --decoder") and "--adapt-norms" not in plain.command()
    printed = ok(invoke("tune", run["best"], run["new"], "--bonus", "0,1", "--adapt-norms")).output
    assert "best: --adapt-norms --decoder" in printed, printed
