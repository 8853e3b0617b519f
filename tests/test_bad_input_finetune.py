"""Bad inputs to fine-tuning (train.init_from, vocab_resize, freeze), to the CNN front end's config and to
LM training from text: each case asserts the error type and that the message names the culprit and the fix
(see ``bad_input.py``). The base run is a 1-layer, 4-unit model on 6-dim features of the tokens a, b, c."""
from __future__ import annotations

from pathlib import Path

import click
import pytest
from bad_input import Base, Row, check_case, cli, config_data, ids, npy_corpus, write_manifest, write_yaml

from seqlabel import api
from seqlabel.errors import CheckpointError, ConfigError, VocabError


def fine_tune(tmp: Path, base: Base, texts: list[str] = ("ab", "ba", "cab"), **sections: dict) -> None:
    """Fine-tune ``base``'s checkpoint on a corpus of ``texts``; ``sections`` update the base config."""
    data = config_data(write_manifest(tmp / "train.jsonl", npy_corpus(tmp, list(texts))))
    sections["train"] = {"init_from": str(base.checkpoint), **sections.get("train", {})}
    for section, values in sections.items():
        data[section].update(values)
    api.train(write_yaml(tmp / "c.yaml", data), tmp / "exp", echo=lambda _: None)


def init_from_new_tokens(tmp: Path, base: Base) -> None:
    fine_tune(tmp, base, ["ad", "da", "b d"])


def init_from_other_architecture(tmp: Path, base: Base) -> None:
    fine_tune(tmp, base, model={"hidden_size": 8})


def init_from_other_input_dim(tmp: Path, base: Base) -> None:
    fine_tune(tmp, base, data={"train": str(_wide_manifest(tmp))})


def _wide_manifest(tmp: Path) -> Path:
    import numpy as np

    rows = []
    for i, text in enumerate(["ab", "ba", "cab"]):
        np.save(tmp / f"w{i}.npy", np.zeros((4 * len(text) + 2, 9), np.float32))
        rows.append({"id": f"w{i}", "source": f"w{i}.npy", "text": text})
    return write_manifest(tmp / "wide.jsonl", rows)


def init_from_missing(tmp: Path, base: Base) -> None:
    fine_tune(tmp, base, train={"init_from": str(tmp / "none.pt")})


def freeze_unknown_part(tmp: Path, base: Base) -> None:
    fine_tune(tmp, base, train={"freeze": ["frontend"], "freeze_epochs": 1})


def freeze_without_epochs(tmp: Path, base: Base) -> None:
    fine_tune(tmp, base, train={"freeze": ["lstm"]})


def cnn_block_typo(tmp: Path, base: Base) -> None:
    cli("train", write_yaml(tmp / "c.yaml", base.config), "--out", tmp / "exp", "-o",
        "model.cnn_blocks=[{channels: 4, pool: 2}]")


def model_preset_unknown(tmp: Path, base: Base) -> None:
    cli("train", write_yaml(tmp / "c.yaml", base.config), "--out", tmp / "exp", "-o", "model.preset=laia")


def lm_text_table_bad_line(tmp: Path, base: Base) -> None:
    (tmp / "t.txt").write_text("ab ba\n", encoding="utf-8")
    (tmp / "map.tsv").write_text("# ok\nae\te\n", encoding="utf-8")
    cli("lm", "train", "--text", tmp / "t.txt", "--map", tmp / "map.tsv", "--out", tmp / "lm.arpa")


def lm_text_not_utf8(tmp: Path, base: Base) -> None:
    (tmp / "t.txt").write_bytes("caf\u00e9\n".encode("latin-1"))
    cli("lm", "train", "--text", tmp / "t.txt", "--out", tmp / "lm.arpa")


def lm_text_nothing_left(tmp: Path, base: Base) -> None:
    (tmp / "t.txt").write_text("xyz 123\n", encoding="utf-8")
    cli("lm", "train", "--text", tmp / "t.txt", "--vocab", base.checkpoint, "--out", tmp / "lm.arpa")


# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[Row] = [
    (init_from_new_tokens, VocabError, ("{ckpt}", "1 token(s)", "'d' (U+0064)", "train.vocab_resize: union")),
    (init_from_other_architecture, ConfigError, ("{ckpt}", "model.hidden_size (checkpoint 4, config 8)",
                                                 "set those keys as the checkpoint's")),
    (init_from_other_input_dim, ConfigError, ("{ckpt}", "reads 6-dim features, this config's give 9-dim",
                                              "use the checkpoint's features section")),
    (init_from_missing, CheckpointError, ("checkpoint not found", "{tmp}/none.pt")),
    (freeze_unknown_part, ConfigError, ("train.freeze", "no part 'frontend'", "its parts: lstm, lstm.0, output")),
    (freeze_without_epochs, ConfigError, ("train.freeze names ['lstm']", "train.freeze_epochs >= 1")),
    (cnn_block_typo, click.ClickException, ("'model.cnn_blocks[0].pool'", "did you mean")),
    (model_preset_unknown, click.ClickException, ("model.preset 'laia' unknown", "pylaia, kraken")),
    (lm_text_table_bad_line, click.ClickException, ("map.tsv:2", "one character, a tab and its replacement")),
    (lm_text_not_utf8, click.ClickException, ("t.txt", "not UTF-8", "iconv")),
    (lm_text_nothing_left, click.ClickException, ("no text left", "6 dropped", "'x' (U+0078)")),
]


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)
