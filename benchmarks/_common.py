"""Helpers shared by bench_data.py, bench_train.py and bench_infer.py: corpora (real when
``../shared/data`` has them, else synthetic), the machine description, table printing."""
from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("SEQLABEL_SHARED_DATA", ROOT.parent / "shared" / "data"))
CORPORA = {"an4": "an4_wav", "fsdd": "fsdd"}  # corpus -> folder under SHARED


def corpus_manifest(name: str, work: Path, limit: int = 0, seed: int = 0) -> tuple[Path, str]:
    """The training manifest of ``name`` (an4, fsdd: prepared from SHARED; synthetic: generated),
    cut to ``limit`` utterances drawn at random (0: all); returns (manifest, what it is)."""
    from seqlabel import api
    from seqlabel.data.manifest import read_manifest

    folder = SHARED / CORPORA.get(name, "")
    if name in CORPORA and folder.is_dir():
        manifest = api.prepare(name, folder, work / name)["train"]
        what = f"{name} train ({folder})"
    else:
        if name != "synthetic":
            print(f"{folder} not found: using synthetic audio instead of {name}", file=sys.stderr)
        manifest = synthetic_corpus(work / "synthetic", max(limit, 200), seed)
        what = "synthetic (tones and noise, 16 kHz, 0.5-4 s)"
    if limit:
        rows = manifest.read_text(encoding="utf-8").splitlines()
        keep = sorted(np.random.default_rng(seed).permutation(len(rows))[:limit])
        manifest = manifest.with_name(f"{manifest.stem}.{limit}.jsonl")
        manifest.write_text("".join(rows[i] + "\n" for i in keep), encoding="utf-8")
        what += f", {limit} utterances drawn at random"
    read_manifest(manifest)  # fail early on a bad manifest
    return manifest, what


def synthetic_corpus(root: Path, n: int, seed: int = 0, rate: int = 16000) -> Path:
    """``n`` WAVs of 0.5-4 s (tone bursts in noise) with random letter transcripts; the manifest path."""
    import soundfile

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        seconds = rng.uniform(0.5, 4.0)
        t = np.arange(int(seconds * rate)) / rate
        wave = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t) * (np.sin(2 * np.pi * 3 * t) > 0)
        path = root / f"s{i}.wav"
        soundfile.write(str(path), wave + 0.02 * rng.standard_normal(t.size), rate, subtype="PCM_16")
        text = "".join(rng.choice(list("ABCDEFGH "), size=max(1, int(seconds * 4)))).strip() or "A"
        rows.append({"id": f"syn-s{i}", "source": str(path), "text": text, "speaker": "syn", "duration": seconds})
    manifest = root / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest


def machine() -> dict[str, Any]:
    """CPU, cores, torch version and threads, and the 1-minute load average right now."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "load_1min": round(os.getloadavg()[0], 2), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def emit(result: dict, json_path: Optional[Path]) -> dict:
    """Print ``result`` as JSON (after the script's tables) and also write it to ``json_path`` when given."""
    text = json.dumps(result, indent=1)
    print(text)
    if json_path:
        json_path.write_text(text + "\n")
    return result
