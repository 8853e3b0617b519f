"""Latency of one in-memory utterance a call: ``Recognizer.transcribe_array`` on a kept-loaded model.

Not a test: a script that prints a table and the same as JSON. The utterance is a real recording
cut or zero-padded to ``--seconds`` (default 1 s); each decoder (greedy, beam) gets its own
Recognizer, loaded once, and calls alternate between them round by round. A call covers what a
user's call does: samples -> features (fbank + deltas), normalisation, forward pass, decoding
into a Hypothesis with token times and confidences. One torch thread (``--threads``).

    python benchmarks/bench_recognizer.py --checkpoint exp/fsdd/best.pt \
        --wav ../shared/data/fsdd/recordings/7_theo_3.wav --calls 200
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
from _common import emit, machine, table

from seqlabel.inference.recognizer import Recognizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--wav", required=True, type=Path, help="a recording, cut or padded to --seconds")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per decoder")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--beam", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    samples, rate = soundfile.read(str(args.wav), dtype="float32", always_2d=True)
    n = int(round(args.seconds * rate))
    samples = np.pad(samples[:n, 0], (0, max(0, n - samples.shape[0])))  # (n,)
    recognizers = {
        "greedy": Recognizer.from_checkpoint(args.checkpoint, "cpu", ["decode.decoder=greedy"]),
        f"beam {args.beam}": Recognizer.from_checkpoint(args.checkpoint, "cpu",
                                                        ["decode.decoder=beam", f"decode.beam={args.beam}"]),
    }
    times: dict[str, list[float]] = {name: [] for name in recognizers}
    texts = {}
    for step in range(args.warmup + args.calls):
        for name, rec in recognizers.items():
            start = time.perf_counter()
            hyp = rec.transcribe_array(samples, rate)
            elapsed = time.perf_counter() - start
            if step >= args.warmup:
                times[name].append(elapsed)
            texts[name] = rec.text(hyp)
    rows, result = [], {"machine": machine(), "checkpoint": str(args.checkpoint), "wav": str(args.wav),
                        "seconds": args.seconds, "calls": args.calls, "decoders": {}}
    for name, ts in times.items():
        ms = sorted(1000 * t for t in ts)
        stats = {"median_ms": statistics.median(ms), "p90_ms": ms[int(0.9 * (len(ms) - 1))], "min_ms": ms[0],
                 "text": texts[name]}
        result["decoders"][name] = stats
        rows.append([name, stats["median_ms"], stats["p90_ms"], stats["min_ms"], texts[name]])
    print(table(rows, ["decoder", "median ms", "p90 ms", "min ms", "text"]))
    emit(result, args.json)


if __name__ == "__main__":
    main()
