"""One epoch of augmented line images with and without the in-memory image cache
(``seqlabel.features.image.IMAGE_CACHE_BYTES``): every training line read, altered and turned into
frames as ``SequenceDataset`` does each epoch, in one process (as ``train.num_workers: 0``).

Without the cache each item reads and decodes its file and scales it to the line height again; with
it only the first extraction does. Rounds alternate (off, on, off, on, ...) so that load changes hit
both alike; the table gives each round's seconds per epoch.

    python benchmarks/bench_image_cache.py --manifest data/caroline/train.jsonl
    python benchmarks/bench_image_cache.py --manifest data/caroline/train.jsonl -o features.image.height=128
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from _common import ROOT, emit, machine, table

import seqlabel.features.image as image_module
from seqlabel.config import load_config
from seqlabel.data.manifest import read_manifest
from seqlabel.features import build_extractor


def epoch_seconds(manifest: str, overrides: list[str], cached: bool, epochs: int) -> float:
    """Seconds per augmented epoch after the first extraction (fresh extractor; cache on or off)."""
    config = load_config(ROOT / "configs" / "caroline.yaml", overrides)
    image_module.IMAGE_CACHE_BYTES = 2 << 30 if cached else 0
    extractor = build_extractor(config.features)
    utts = read_manifest(manifest)
    for utt in utts:  # what load_split does before training
        extractor(utt)
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        for index, utt in enumerate(utts):
            extractor.augmented(utt, np.random.default_rng([config.train.seed, epoch, index]))
    return (time.perf_counter() - started) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", required=True, help="training manifest of line images")
    parser.add_argument("-o", "--override", action="append", default=[], help="config override (caroline.yaml)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1, help="epochs timed per round")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.rounds):
        for mode in ("off", "on"):
            times[mode].append(epoch_seconds(args.manifest, args.override, mode == "on", args.epochs))
    rows = [[mode, " ".join(f"{t:.2f}" for t in ts), f"{statistics.median(ts):.2f}"] for mode, ts in times.items()]
    rows.append(["speed-up", "", f"{statistics.median(times['off']) / statistics.median(times['on']):.2f}x"])
    print(table(rows, ["image cache", "s/epoch per round", "median"]))
    emit({"machine": machine(), "manifest": args.manifest, "overrides": args.override, "seconds": times}, args.json)


if __name__ == "__main__":
    main()
