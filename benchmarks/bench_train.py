"""Training throughput of ``seqlabel train`` against a bare PyTorch loop on exactly the same batches,
and peak resident memory of training for given batch budgets.

Not a test: a script that prints a table and the same as JSON. Rows, measured over whole epochs
and interleaved round by round (the order alternates) so that drifting machine load hits all alike:

    bare loop      nn.LSTM (L x H bidirectional, padded input) + Linear + log_softmax + ctc_loss + Adam
                   over the padded batches, built beforehand (no data loading in the timing)
    seqlabel model seqlabel's BiLSTMCTC (packed sequences) in the same bare loop: the model's share
    seqlabel train ``seqlabel.training.loop.train`` for one epoch: DataLoader, collate, train_step (CTC
                   feasibility, grad clipping, loss scaler), logging; epoch time from its log.csv
    + augment      the same with ``features.augment`` (AUGMENT: speed 0.9/1.0/1.1, noise, gain,
                   SpecAugment): waveforms perturbed and features extracted per item and epoch.
                   Its throughput counts the frames it trained on (speed changes them), from log.csv,
                   and its ratio is to ``seqlabel train`` of the same round (the issue's target: >= 0.85)

All three see the same utterances, normalised features (global CMVN), batches (the
BucketBatchSampler of the config: same seed, epoch 1) and model size. Throughput is real
(unpadded) frames per second; the ratio is against the bare loop of the same round.
Peak RSS: ``seqlabel train`` in a child process for one epoch per budget (``--rss-budgets``),
its maximum resident set size from ``wait4``.

    python benchmarks/bench_train.py                              # AN4 (or synthetic), 120 utterances
    python benchmarks/bench_train.py --corpus fsdd --utterances 400 --rounds 5
    python benchmarks/bench_train.py --corpus fsdd --utterances 400 --hidden 128 --stacking 2   # fsdd.yaml's model
    python benchmarks/bench_train.py --rss-budgets 5000,20000 --json train.json
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

import torch  # noqa: E402
from _common import ROOT, corpus_manifest, emit, machine, table
from torch import nn  # noqa: E402

from seqlabel.config import Config, config_from_data, save_config  # noqa: E402
from seqlabel.data.dataset import SequenceDataset, load_split, normalize  # noqa: E402
from seqlabel.data.manifest import read_manifest  # noqa: E402
from seqlabel.data.sampling import BucketBatchSampler  # noqa: E402
from seqlabel.data.vocab import Vocab  # noqa: E402
from seqlabel.features import build_extractor  # noqa: E402
from seqlabel.features.cmvn import compute_stats  # noqa: E402
from seqlabel.models.bilstm import build_model  # noqa: E402
from seqlabel.training.loop import train  # noqa: E402
from seqlabel.types import Batch  # noqa: E402

SAMPLE_RATES = {"fsdd": 8000}
AUGMENT = {"speed": [0.9, 1.0, 1.1], "noise_prob": 0.5, "gain_db": 6.0, "freq_masks": 2, "freq_width": 8,
           "time_masks": 2, "time_width": 10, "time_fraction": 0.2, "time_warp": 5}


def make_config(manifest: Path, args: argparse.Namespace, cache_dir: Path, batch_frames: Optional[int] = None,
                augment: Optional[dict] = None) -> Config:
    return config_from_data({
        "data": {"train": str(manifest), "unit": "char"},
        "features": {"preset": "graves2013", "sample_rate": SAMPLE_RATES.get(args.corpus, 16000), "cmvn": "global",
                     "cache_dir": str(cache_dir), "augment": augment or {}},
        "model": {"num_layers": args.layers, "hidden_size": args.hidden, "frame_stacking": args.stacking,
                  "subsampling": args.stacking},
        "train": {"max_epochs": 1, "batch_frames": batch_frames or args.batch_frames,
                  "max_batch_size": args.max_batch_size, "lr": 1e-3, "device": "cpu", "amp": "off",
                  "threads": args.threads, "tensorboard": False, "early_stop_patience": 0, "seed": 1},
    })


def same_batches(config: Config) -> tuple[list[Batch], int, int]:
    """The padded batches ``seqlabel train`` sees in epoch 1, the feature dim and the class count."""
    utts = read_manifest(config.data.train)
    vocab = Vocab.build([u.text for u in utts], config.data.unit, config.data.word_boundary)
    split = load_split(utts, build_extractor(config.features), vocab, progress=False)
    dataset = SequenceDataset(split, normalize(split, "global", compute_stats(split.features)))
    sampler = BucketBatchSampler(split.lengths, config.train.batch_frames, config.train.max_batch_size, True,
                                 config.train.seed)
    sampler.set_epoch(1)
    batches = [dataset.collate([dataset[i] for i in b]) for b in sampler]
    return batches, dataset.features[0].shape[1], len(vocab)


def loop_epoch(model: nn.Module, batches: Sequence[Batch], lr: float) -> float:
    """Seconds for one epoch of the plainest CTC training loop over ``batches``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    for b in batches:
        optimizer.zero_grad(set_to_none=True)
        log_probs, out_lengths = model(b.features, b.feature_lengths)  # (B, T, C)
        loss = nn.functional.ctc_loss(log_probs.transpose(0, 1), b.targets, out_lengths, b.target_lengths,
                                      blank=0, reduction="sum") / len(b)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


class BareBiLSTM(nn.Module):
    """nn.LSTM on padded input + Linear + log_softmax: the reference the issue names."""

    def __init__(self, input_dim: int, num_classes: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden, layers, bidirectional=True, batch_first=True)
        self.output = nn.Linear(2 * hidden, num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, _ = self.lstm(x)  # (B, T, 2H)
        return self.output(y).log_softmax(dim=-1), lengths


def seqlabel_epoch(config: Config, work: Path, name: str) -> tuple[float, float]:
    """``seqlabel.training.loop.train`` for one epoch (progress bar on, as by default, sent to a buffer):
    its seconds and trained frames per second, from its log.csv."""
    out = work / name
    with contextlib.redirect_stderr(io.StringIO()):
        train(config, out, echo=lambda _: None)
    with (out / "log.csv").open(encoding="utf-8") as f:
        row = list(csv.DictReader(f))[-1]
    return float(row["epoch_seconds"]), float(row["frames_per_second"])


def peak_rss(manifest: Path, args: argparse.Namespace, cache_dir: Path, budget: int, work: Path) -> float:
    """Peak RSS (MiB) of ``seqlabel train`` (one epoch, batch_frames = budget) in a child process."""
    config_path = work / f"rss{budget}.yaml"
    save_config(make_config(manifest, args, cache_dir, budget), config_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-m", "seqlabel", "train", str(config_path), "--out",
                              str(work / f"rss{budget}"), "-o", "train.progress=false"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise RuntimeError(f"seqlabel train failed: {child.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024  # Linux: KiB


def main(argv: Optional[Sequence[str]] = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="an4", choices=["an4", "fsdd", "synthetic"])
    ap.add_argument("--utterances", type=int, default=120, help="random subset of the training set (0: all)")
    ap.add_argument("--rounds", type=int, default=3, help="epochs of each row, interleaved")
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=250)
    ap.add_argument("--stacking", type=int, default=1,
                    help="model frame stacking and subsampling (configs/fsdd.yaml: 2); > 1 runs the seqlabel rows only")
    ap.add_argument("--batch-frames", type=int, default=12000)
    ap.add_argument("--max-batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: the machine is shared)")
    ap.add_argument("--rss-budgets", default="", help="comma-separated batch_frames for the peak-RSS runs")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="bench_train.") as tmp:
        work = Path(tmp)
        manifest, what = corpus_manifest(args.corpus, work, args.utterances)
        config = make_config(manifest, args, work / "cache")
        augmented = make_config(manifest, args, work / "cache", augment=AUGMENT)
        batches, input_dim, classes = same_batches(config)  # also fills the feature cache
        frames = sum(int(b.feature_lengths.sum()) for b in batches)
        padded = sum(b.features.shape[0] * b.features.shape[1] for b in batches)
        for model in (BareBiLSTM(input_dim, classes, args.hidden, args.layers), build_model(input_dim, classes, config.model)):
            loop_epoch(model, batches[:2], 1e-3)  # warm-up: allocator, oneDNN kernels
        runs: dict[str, list[float]] = {"bare loop": [], "seqlabel model": [], "seqlabel train": [], "+ augment": []}
        if args.stacking > 1:  # the bare loop does not stack frames: only seqlabel train and + augment compare
            runs = {name: [] for name in ("seqlabel train", "+ augment")}
        fps: dict[str, list[float]] = {"seqlabel train": [], "+ augment": []}  # trained frames/s, from log.csv
        loads = []
        for r in range(args.rounds):
            order = list(runs) if r % 2 == 0 else list(reversed(runs))
            for name in order:
                torch.manual_seed(r)
                if name == "bare loop":
                    seconds = loop_epoch(BareBiLSTM(input_dim, classes, args.hidden, args.layers), batches, 1e-3)
                elif name == "seqlabel model":
                    seconds = loop_epoch(build_model(input_dim, classes, config.model), batches, 1e-3)
                else:
                    seconds, speed = seqlabel_epoch(config if name == "seqlabel train" else augmented, work,
                                                    f"{name.strip('+ ').replace(' ', '_')}{r}")
                    fps[name].append(speed)
                runs[name].append(seconds)
            loads.append(os.getloadavg()[0])
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in runs.items()),
                  file=sys.stderr)
        rss = {int(b): round(peak_rss(manifest, args, work / "cache", int(b), work), 1)
               for b in args.rss_budgets.split(",") if b.strip()}

    rows, results = [], {}
    for name, seconds in runs.items():
        ratios = [bare / s for bare, s in zip(runs.get("bare loop", seconds), seconds)]
        if name == "+ augment":  # throughput against seqlabel train's, both counting the frames they trained on
            ratios = [a / b for a, b in zip(fps["+ augment"], fps["seqlabel train"])]
        speed = statistics.median(fps[name]) if name == "+ augment" else frames / statistics.median(seconds)
        results[name] = {"epoch_seconds": seconds, "frames_per_second": round(speed),
                         "ratio_to": "seqlabel train" if name == "+ augment" else "bare loop" if "bare loop" in runs
                         else "none (no bare loop with --stacking)",
                         "ratio_to_bare_per_round": [round(x, 3) for x in ratios],
                         "ratio_to_bare_median": round(statistics.median(ratios), 3)}
        rows.append((name, statistics.median(seconds), results[name]["frames_per_second"],
                     results[name]["ratio_to_bare_median"], " ".join(f"{x:.3f}" for x in ratios)))
    result = {"benchmark": "train", "data": what, "utterances": len({i for b in batches for i in b.ids}),
              "batches": len(batches), "real_frames": frames, "padding_waste": round(padded / frames - 1, 4),
              "model": f"{args.layers}x{args.hidden} BiLSTM, {input_dim}-dim features, {classes} classes",
              "batch_frames": args.batch_frames, "max_batch_size": args.max_batch_size, "rounds": args.rounds,
              "machine": machine(), "load_1min_per_round": [round(x, 2) for x in loads], "rows": results,
              "peak_rss_mib_by_batch_frames": rss}
    print(f"{what}: {result['utterances']} utterances, {len(batches)} batches, {frames} frames "
          f"(padding waste {100 * result['padding_waste']:.1f}%), {result['model']}")
    print(table(rows, ["row", "median s/epoch", "frames/s", "ratio to bare (+ augment: to train)", "ratio per round"]))
    for budget, mib in rss.items():
        print(f"peak RSS, seqlabel train, batch_frames {budget}: {mib:.0f} MiB")
    return emit(result, args.json)


if __name__ == "__main__":
    main()
