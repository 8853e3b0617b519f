"""Fine-tuning (seqlabel/training/finetune.py): train.init_from with kraken's vocabulary resizing, frozen
parts for the first epochs, the checks of input dimension and architecture, the start recorded in every
checkpoint, and an exact --resume of a fine-tuning run. (Refusals of other input dims, architectures and
new tokens are in the bad-input catalogue, test_bad_input_finetune.py.)

Tiny precomputed features (.npy) written by the test: each character is a few frames of its own one-hot
pattern, so a one-layer model learns it in a few epochs on CPU. A one-block CNN with batch norm makes
"frozen" cover statistics as well as weights.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import invoke, ok

import seqlabel.training.loop as loop
from seqlabel import api
from seqlabel.config import load_config
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, VocabError
from seqlabel.models.bilstm import build_model
from seqlabel.models.checkpoint import load_checkpoint
from seqlabel.training.finetune import feature_notes, init_weights, load_init, resize_vocab

CHARS = "abcd"
BASE_TEXTS = ["ab", "ba", "ca", "abc", "cab", "bca", "cc ab", "aa", "bb", "ac", "cb", "abca"]  # no d
NEW_TEXTS = ["ad", "da", "bd", "abd", "dab", "dd ab", "bad", "db", "ab", "ba"]  # d is new, c is gone
MODEL = {"num_layers": 2, "hidden_size": 8,
         "cnn_blocks": [{"channels": 2, "kernel": 3, "height_pool": 2, "batch_norm": True, "activation": "leakyrelu"}]}
TRAIN = {"lr": 0.05, "batch_frames": 40, "max_batch_size": 3, "progress": False, "tensorboard": False,
         "device": "cpu", "amp": "off", "threads": 1, "early_stop_patience": 0, "seed": 3}


def write_corpus(root: Path, texts: list[str], prefix: str, dim: int = 8) -> Path:
    """Each character: 3 frames of its one-hot pattern (dim features); a space: 2 silent frames; noise."""
    rng = np.random.default_rng(len(prefix) + len(texts))
    patterns = {c: np.eye(dim, dtype=np.float32)[i] * 2.0 for i, c in enumerate(CHARS)}
    lines = []
    for i, text in enumerate(texts):
        frames = [np.zeros((2, dim), np.float32) if c == " " else np.tile(patterns[c], (3, 1)) for c in text]
        feats = np.concatenate([np.zeros((1, dim), np.float32), *frames, np.zeros((1, dim), np.float32)])
        np.save(root / f"{prefix}{i}.npy", feats + 0.1 * rng.standard_normal(feats.shape).astype(np.float32))
        lines.append(json.dumps({"id": f"{prefix}{i}", "source": f"{prefix}{i}.npy", "text": text}) + "\n")
    manifest = root / f"{prefix}.jsonl"
    manifest.write_text("".join(lines), encoding="utf-8")
    return manifest


def write_config(root: Path, name: str, texts: list[str], dim: int = 8, **train) -> Path:
    data = {"data": {"train": str(write_corpus(root, texts, name, dim)),
                     "dev": str(write_corpus(root, texts[:3], name + "dev", dim))},
            "features": {"type": "precomputed", "cmvn": "global"}, "model": MODEL,
            "train": {**TRAIN, "max_epochs": 2, **train}}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained checkpoint that knows a, b, c (and the word boundary)."""
    root = tmp_path_factory.mktemp("base")
    return api.train(write_config(root, "base", BASE_TEXTS), root / "run", echo=lambda _: None).last_checkpoint


def quiet(*args, **kwargs):
    return api.train(*args, **kwargs, echo=lambda _: None)


def test_union_keeps_the_known_output_rows_bit_identical_and_adds_the_new_ones(base: Path, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "new", NEW_TEXTS), [f"train.init_from={base}",
                                                                    "train.vocab_resize=union"])
    init = load_init(config)
    vocab = resize_vocab(init, Vocab.build(NEW_TEXTS))
    assert vocab.tokens[: len(init.vocab)] == init.vocab.tokens and vocab.tokens[len(init.vocab):] == ["d"]
    torch.manual_seed(0)
    model = build_model(init.state["input_dim"], len(vocab), config.model)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    init_weights(model, init, vocab)
    theirs, mine = init.state["model"], model.state_dict()
    known = len(init.vocab)
    assert torch.equal(mine["output.weight"][:known], theirs["output.weight"])  # bit-identical, no tolerance
    assert torch.equal(mine["output.bias"][:known], theirs["output.bias"])
    assert torch.equal(mine["output.weight"][known:], fresh["output.weight"][known:])  # the fresh model's init
    for key in theirs:
        if not key.startswith("output."):
            assert torch.equal(mine[key], theirs[key]), key


def test_new_keeps_the_rows_of_shared_tokens_and_fail_names_the_new_tokens(base: Path, tmp_path: Path) -> None:
    path = write_config(tmp_path, "new", NEW_TEXTS)
    init = load_init(load_config(path, [f"train.init_from={base}", "train.vocab_resize=new"]))
    vocab = resize_vocab(init, Vocab.build(NEW_TEXTS))
    assert vocab == Vocab.build(NEW_TEXTS) and "c" not in vocab.tokens
    model = build_model(init.state["input_dim"], len(vocab), load_config(path).model)
    init_weights(model, init, vocab)
    for j, token in enumerate(vocab.tokens):
        if token in init.vocab.tokens:
            old = init.vocab.tokens.index(token)
            assert torch.equal(model.output.weight[j], init.state["model"]["output.weight"][old])
    with pytest.raises(VocabError, match=r"1 token\(s\).*'d' \(U\+0064\).*vocab_resize: union"):
        quiet(path, tmp_path / "fail", [f"train.init_from={base}"])


def test_a_fine_tuning_run_records_its_start(base: Path, tmp_path: Path) -> None:
    path = write_config(tmp_path, "new", NEW_TEXTS, max_epochs=1)
    result = ok(invoke("train", path, "--out", tmp_path / "ft", "--init-from", base, "-o", "train.vocab_resize=union"))
    assert "initialised from" in result.output and "added 1 token(s) d" in result.output
    state = load_checkpoint(tmp_path / "ft" / "last.pt")
    assert state["init_from"] == {"path": str(base.resolve()), "sha256": hashlib.sha256(base.read_bytes()).hexdigest(),
                                  "vocab_resize": "union", "tokens_added": ["d"], "tokens_dropped": []}
    assert Vocab.from_state(state["vocab"]).tokens == Vocab.from_state(load_checkpoint(base)["vocab"]).tokens + ["d"]
    assert torch.equal(state["cmvn"]["mean"], load_checkpoint(base)["cmvn"]["mean"])  # the weights' normalisation
    assert load_checkpoint(base)["init_from"] is None


def test_feature_settings_that_differ_from_the_checkpoint_are_noted_but_augmentation_is_not(base: Path,
                                                                                             tmp_path: Path) -> None:
    path = write_config(tmp_path, "new", NEW_TEXTS)
    same = load_config(path, [f"train.init_from={base}", "features.image.shear=0.5", "features.dither=0.1",
                              "features.image.degrade=0.3", "features.augment.time_masks=1",
                              "features.augment.time_width=2"])
    assert feature_notes(load_init(same), same) == []  # training-only settings (augmentation) may differ freely
    other = load_config(path, [f"train.init_from={base}", "features.image.normalize=centre"])
    assert feature_notes(load_init(other), other) == ["features.image.normalize (checkpoint 'crop', config 'centre')"]
    result = ok(invoke("train", path, "--out", tmp_path / "ft", "--init-from", base, "-o", "train.max_epochs=1",
                       "-o", "train.vocab_resize=union", "-o", "features.image.normalize=centre"))
    assert "note: features.image.normalize (checkpoint 'crop', config 'centre') differs from train.init_from" in \
        result.output  # said, not refused: these features have no image settings that change the input


def weights(state: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state["model"].items() if k.startswith(prefix)}


def test_frozen_parts_do_not_change_during_the_freeze_epochs_and_do_after(base: Path, tmp_path: Path) -> None:
    path = write_config(tmp_path, "new", NEW_TEXTS)
    out = tmp_path / "frozen"
    freeze = [f"train.init_from={base}", "train.vocab_resize=union", "train.freeze=[frontend, lstm.0]",
              "train.freeze_epochs=1"]
    quiet(path, out, [*freeze, "train.max_epochs=1"])
    start, after1 = load_checkpoint(base), load_checkpoint(out / "last.pt")
    layer0 = {k: v for k, v in weights(start, "lstm.").items() if k.endswith(("l0", "l0_reverse"))}
    frozen = {**weights(start, "cnn."), **layer0}
    assert any("running_var" in k for k in frozen) and any("weight_hh_l0" in k for k in frozen)
    for key, tensor in frozen.items():
        assert torch.equal(after1["model"][key], tensor), key  # weights and batch norm statistics
    assert not torch.equal(after1["model"]["lstm.weight_hh_l1"], start["model"]["lstm.weight_hh_l1"])
    quiet(path, out, freeze, resume=True)  # epoch 2: everything trains
    after2 = load_checkpoint(out / "last.pt")
    for key in ("cnn.blocks.0.conv.weight", "cnn.blocks.0.norm.running_mean", "lstm.weight_ih_l0"):
        assert not torch.equal(after2["model"][key], after1["model"][key]), key


def test_resume_of_a_fine_tuning_run_is_exact(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped in the middle of the frozen epoch and resumed from its step checkpoint: the same weights as a
    run never stopped, with weight noise and dropout drawing from the restored random states."""
    path = write_config(tmp_path, "new", NEW_TEXTS, save_every_steps=2, weight_noise=0.01)
    Vocab.build(NEW_TEXTS).save(tmp_path / "tokens.txt")  # data.vocab: the run's vocabulary is the union
    overrides = [f"train.init_from={base}", "train.vocab_resize=union", "train.freeze=[frontend]",
                 "train.freeze_epochs=1", "model.dropout=0.2", f"data.vocab={tmp_path / 'tokens.txt'}"]
    reference = quiet(path, tmp_path / "reference", overrides)
    step, calls = loop.train_step, []

    def stop_at_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        quiet(path, tmp_path / "stopped", overrides)
    monkeypatch.setattr(loop, "train_step", step)
    assert load_checkpoint(tmp_path / "stopped" / "last.pt")["progress"]["batch"] == 2
    base.rename(base.with_name("moved.pt"))  # a resumed run needs its own last.pt only
    try:
        quiet(path, tmp_path / "stopped", overrides, resume=True)
    finally:
        base.with_name("moved.pt").rename(base)
    want, got = load_checkpoint(reference.last_checkpoint), load_checkpoint(tmp_path / "stopped" / "last.pt")
    for key, tensor in want["model"].items():
        assert torch.equal(got["model"][key], tensor), key
    assert got["init_from"] == want["init_from"]


@pytest.mark.parametrize("override, named", [
    ("model.cnn_blocks=[{channels: 2, kernel: 3, height_pool: 2, batch_norm: true}]",
     "model.cnn_blocks (checkpoint [{'channels': 2"),
    ("model.cnn_output_norm=layer", "model.cnn_output_norm (checkpoint 'none', config 'layer')"),  # its weights too
    ("train.freeze=[lstm.5]", "no part 'lstm.5'; its parts: frontend, frontend.0, lstm, lstm.0, lstm.1, output"),
    ("train.freeze=[frontend, lstm, output]", "holds every part"),
    ("data.unit=phone", "set data.unit"),
])
def test_other_front_ends_and_bad_parts_are_refused(base: Path, tmp_path: Path, override: str, named: str) -> None:
    path = write_config(tmp_path, "new", NEW_TEXTS, max_epochs=1)
    freeze = [] if override.startswith("train.freeze") is False else ["train.freeze_epochs=1"]
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        quiet(path, tmp_path / "run", [f"train.init_from={base}", "train.vocab_resize=union", override, *freeze])
