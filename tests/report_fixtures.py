"""Tiny handwriting corpora and runs for the HTML report tests (``test_html_report*.py``, conftest's
``image_run``): printed text lines as images, synthetic pen strokes, and ``tiny_run``, which trains a
one-layer model with a test set so that ``api.train`` ends by evaluating it and writing its report."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def write_manifest(root: Path, prefix: str, rows: list[dict[str, str]]) -> Path:
    manifest = root / f"{prefix}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest


def row(i: int, prefix: str, source: str, text: str) -> dict[str, str]:
    """Utterance i of a split; two writers take turns."""
    return {"id": f"w{i % 2}-{prefix}{i}", "source": source, "text": text, "speaker": f"writer{i % 2}"}


def text_lines(root: Path, texts: list[str], prefix: str) -> Path:
    """Each text printed in Pillow's default font on a white line image 28 pixels high; the manifest."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=16)
    rows = []
    for i, text in enumerate(texts):
        image = Image.new("L", (12 + 10 * len(text), 28), 255)
        ImageDraw.Draw(image).text((6, 4), text, fill=0, font=font)
        path = root / "img" / f"{prefix}{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
        rows.append(row(i, prefix, f"img/{prefix}{i}.png", text))
    return write_manifest(root, prefix, rows)


def stroke_lines(root: Path, texts: list[str], prefix: str) -> Path:
    """Each text as pen strokes ('a' a closed loop, other letters a stroke with a hump) in JSON files."""
    from seqlabel.features.strokes import write_json

    rng = np.random.default_rng(len(prefix))
    rows = []
    for i, text in enumerate(texts):
        path = root / "ink" / f"{prefix}{i}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, _strokes(text, rng))
        rows.append(row(i, prefix, f"ink/{prefix}{i}.json", text))
    return write_manifest(root, prefix, rows)


def _strokes(text: str, rng: np.random.Generator) -> list[np.ndarray]:
    strokes, x = [], 0.0
    t = np.linspace(0, 1, 20)
    for ch in text:
        if ch == " ":
            x += 6
            continue
        if ch == "a":
            pts = np.column_stack([x + 4 + 4 * np.cos(2 * np.pi * t), 10 + 5 * np.sin(2 * np.pi * t)])
        else:
            pts = np.column_stack([x + 2 + 6 * t, 15 - 14 * np.sin(np.pi * t) * (t < 0.5) - 7 * (t >= 0.5)])
        strokes.append(np.column_stack([pts + rng.normal(0, 0.1, pts.shape), np.full(len(pts), np.nan)]))
        x += 10
    return strokes


def tiny_run(root: Path, train: Path, test: Path, features: dict[str, Any]) -> list[str]:
    """Train a one-layer, 8-unit model for two epochs (dev = test) into root/exp; train's messages."""
    from seqlabel import api
    from seqlabel.config import config_from_data

    config = config_from_data({
        "data": {"train": str(train), "dev": str(test), "test": str(test)},
        "features": features,
        "model": {"num_layers": 1, "hidden_size": 8},
        "train": {"lr": 0.02, "max_epochs": 2, "batch_frames": 2000, "max_batch_size": 4, "progress": False,
                  "tensorboard": False, "device": "cpu", "amp": "off", "early_stop_patience": 0},
    })
    messages: list[str] = []
    api.train(config, root / "exp", echo=messages.append)
    return messages
