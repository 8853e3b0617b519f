"""The bad-input catalogue's shared part: good inputs the cases spoil (``Base``, made once per test
session by the ``bad_input_base`` fixture in conftest.py), writers for corpora and configs, and
``check_case``, which runs one case and checks its error. The cases live in ``test_bad_input_*.py``
by entry point.

A case is a function ``(tmp, base) -> None`` that writes its bad input under ``tmp`` and calls an
entry point; ``fragments`` may hold ``{tmp}`` (the case's folder) and ``{ckpt}`` (a good checkpoint).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml

from seqlabel import api
from seqlabel.cli import main

RATE = 8000
DIM = 6
TEXTS = ["ab", "ba", "cab", "a b", "bc", "ca"]


@dataclass(frozen=True)
class Base:
    """Good inputs the cases spoil: a precomputed-feature corpus, its config, a trained run."""

    root: Path
    config: dict  # plain config data for the .npy corpus
    checkpoint: Path
    run: Path


def records(texts: list[str], suffix: str = ".npy") -> list[dict]:
    return [{"id": f"u{i}", "source": f"u{i}{suffix}", "text": t} for i, t in enumerate(texts)]


def write_manifest(path: Path, rows: list[dict | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def write_features(folder: Path, texts: list[str]) -> None:
    rng = np.random.default_rng(0)
    for i, text in enumerate(texts):
        np.save(folder / f"u{i}.npy", rng.standard_normal((4 * len(text) + 2, DIM)).astype(np.float32))


def config_data(train: Path, **sections: dict) -> dict:
    data = {
        "data": {"train": str(train)},
        "features": {"type": "precomputed", "cmvn": "global"},
        "model": {"num_layers": 1, "hidden_size": 4},
        "train": {"max_epochs": 1, "batch_frames": 200, "max_batch_size": 4, "progress": False,
                  "tensorboard": False, "device": "cpu", "amp": "off"},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return data


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def make_base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    root = tmp_path_factory.mktemp("base")
    write_features(root, TEXTS)
    train = write_manifest(root / "train.jsonl", records(TEXTS))
    config = config_data(train)
    result = api.train(write_yaml(root / "good.yaml", config), root / "run", echo=lambda _: None)
    return Base(root, config, result.best_checkpoint, root / "run")


def train_on(tmp: Path, rows: list[dict | str], features: str | dict = "precomputed", **sections: dict) -> None:
    """Train on a manifest of ``rows`` (sources relative to ``tmp``); ``features``: a type or a section."""
    manifest = write_manifest(tmp / "train.jsonl", rows)
    sections["features"] = features if isinstance(features, dict) else {"type": features}
    api.train(write_yaml(tmp / "c.yaml", config_data(manifest, **sections)), tmp / "exp", echo=lambda _: None)


def npy_corpus(tmp: Path, texts: list[str] = TEXTS) -> list[dict]:
    write_features(tmp, texts)
    return records(texts)


def cli(*args: object) -> None:
    """Run the command line without click's exit handling: its exceptions propagate."""
    main.main([str(a) for a in args], prog_name="seqlabel", standalone_mode=False)


Case = Callable[[Path, Base], None]
Row = tuple[Case, type[Exception], tuple[str, ...]]


def ids(rows: list[Row]) -> list[str]:
    return [case.__name__ for case, _, _ in rows]


def check_case(case: Case, error: type[Exception], fragments: tuple[str, ...], base: Base, tmp: Path) -> None:
    """Run ``case``: it must raise ``error`` whose message holds every fragment and no traceback."""
    with pytest.raises(error) as caught:
        case(tmp, base)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment.format(tmp=tmp, ckpt=base.checkpoint) in message, (fragment, message)
    assert "Traceback" not in message
