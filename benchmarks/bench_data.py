"""Data-side costs: padding waste of the batch sampler, feature extraction speed, the feature cache.

Not a test: a script that prints tables and the same as JSON. Per corpus (AN4 and FSDD training
sets from ``../shared/data``, else synthetic audio):

    extraction   real-time factor per core: seconds of audio / CPU seconds of this process (one
                 torch thread), reading the audio included; also the wall-clock factor
    cache        filling the feature cache (extract + write .npy), then reading it back (memory maps)
    padding      padded frames / real frames - 1 of BucketBatchSampler on the real feature lengths,
                 averaged over epochs, at the corpus config's budget and at others; beside it the same
                 batch sizes filled in random order (what an unsorted sampler wastes)

    python benchmarks/bench_data.py
    python benchmarks/bench_data.py --corpora an4 --epochs 10 --json data.json
"""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

import soundfile  # noqa: E402
import torch  # noqa: E402
from _common import ROOT, corpus_manifest, emit, machine, table

from seqlabel.config import TrainConfig, load_config  # noqa: E402
from seqlabel.data.dataset import extract_features  # noqa: E402
from seqlabel.data.manifest import read_manifest  # noqa: E402
from seqlabel.data.sampling import BucketBatchSampler, padding_ratio  # noqa: E402
from seqlabel.features import build_extractor  # noqa: E402

CONFIGS = {"an4": ROOT / "configs" / "an4.yaml", "fsdd": ROOT / "configs" / "fsdd.yaml",
           "synthetic": ROOT / "configs" / "an4.yaml"}


def timed(fn):
    """(result, CPU seconds of this process, wall seconds) of ``fn()``."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def random_fill(lengths: Sequence[int], batches: Sequence[Sequence[int]], seed: int) -> list[list[int]]:
    """The same batch sizes filled with utterances in random order."""
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    out, k = [], 0
    for b in batches:
        out.append(order[k : k + len(b)])
        k += len(b)
    return out


def padding(lengths: list[int], budget: int, max_batch: int, epochs: int) -> dict:
    bucketed, shuffled, sizes = [], [], []
    for epoch in range(1, epochs + 1):
        sampler = BucketBatchSampler(lengths, budget, max_batch, shuffle=True, seed=1)
        sampler.set_epoch(epoch)
        batches = sampler.batches()
        bucketed.append(padding_ratio(lengths, batches))
        shuffled.append(padding_ratio(lengths, random_fill(lengths, batches, epoch)))
        sizes.append(len(lengths) / len(batches))
    return {"batch_frames": budget, "max_batch_size": max_batch, "waste": round(statistics.mean(bucketed), 4),
            "waste_max": round(max(bucketed), 4), "waste_random_order": round(statistics.mean(shuffled), 4),
            "mean_batch_size": round(statistics.mean(sizes), 1)}


def bench_corpus(name: str, work: Path, args: argparse.Namespace) -> dict:
    manifest, what = corpus_manifest(name, work, args.utterances)
    config = load_config(CONFIGS[name]).features
    utts = read_manifest(manifest)
    audio = sum(soundfile.info(u.source).duration for u in utts)
    extractor = build_extractor(config)
    extract_features(utts[:5], extractor, progress=False)  # warm-up (lazy imports, mel banks)
    feats, cpu, wall = timed(lambda: extract_features(utts, extractor, progress=False))
    cached = build_extractor(type(config)(**{**config.__dict__, "cache_dir": str(work / "cache" / name)}))
    _, fill_cpu, fill_wall = timed(lambda: extract_features(utts, cached, progress=False))
    hits, hit_cpu, hit_wall = timed(lambda: extract_features(utts, cached, progress=False))
    assert all(torch.equal(a, b) for a, b in zip(feats, hits)), "cache returned other features"
    lengths = [f.shape[0] for f in feats]
    train = load_config(CONFIGS[name]).train
    default = TrainConfig()
    budgets = sorted({(train.batch_frames, train.max_batch_size), (6000, 32), (12000, 32),
                      (default.batch_frames, default.max_batch_size), (20000, 64)})
    return {"data": what, "utterances": len(utts), "audio_seconds": round(audio, 1), "frames": sum(lengths),
            "features": f"{config.type}, {extractor.dim} dims, {config.sample_rate} Hz",
            "extraction": {"cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3),
                           "rtf_per_core": round(audio / cpu), "rtf_wall": round(audio / wall)},
            "cache": {"fill_wall_seconds": round(fill_wall, 3), "fill_rtf_per_core": round(audio / fill_cpu),
                      "hit_wall_seconds": round(hit_wall, 3), "hit_rtf_per_core": round(audio / hit_cpu)},
            "padding": [padding(lengths, b, m, args.epochs) for b, m in budgets],
            "config_budget": {"batch_frames": train.batch_frames, "max_batch_size": train.max_batch_size}}


def main(argv: Optional[Sequence[str]] = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", default="an4,fsdd", help="comma-separated: an4, fsdd, synthetic")
    ap.add_argument("--utterances", type=int, default=0, help="random subset of each training set (0: all)")
    ap.add_argument("--epochs", type=int, default=5, help="sampler epochs averaged for the padding waste")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench_data.") as tmp:
        results = {name: bench_corpus(name, Path(tmp), args) for name in args.corpora.split(",")}
    result = {"benchmark": "data", "machine": machine(), "corpora": results}
    print(table([(name, r["utterances"], r["audio_seconds"], r["extraction"]["rtf_per_core"], r["extraction"]["rtf_wall"],
                  r["cache"]["fill_rtf_per_core"], r["cache"]["hit_rtf_per_core"]) for name, r in results.items()],
                ["corpus", "utts", "audio s", "extract RTF/core", "extract RTF wall", "cache fill RTF/core",
                 "cache hit RTF/core"]))
    print()
    print(table([(name, p["batch_frames"], p["max_batch_size"], p["mean_batch_size"], f"{100 * p['waste']:.2f}%",
                  f"{100 * p['waste_max']:.2f}%", f"{100 * p['waste_random_order']:.1f}%")
                 for name, r in results.items() for p in r["padding"]],
                ["corpus", "batch_frames", "max batch", "mean batch", "padding waste", "worst epoch", "random order"]))
    return emit(result, args.json)


if __name__ == "__main__":
    main()
