"""Greedy decoding speed: model forward + greedy CTC decoding as a real-time factor, for the
checkpoint's model in seqlabel and for its TorchScript and ONNX exports.

Not a test: a script that prints a table and the same as JSON. Features are extracted (and
normalised) beforehand: their cost is bench_data.py's. Rows, interleaved round by round:

    seqlabel       seqlabel.inference.batch.greedy_transcribe: length-sorted batches, forward, greedy path
                   with token frames and confidences (Hypothesis records)
    torchscript    the exported file (``seqlabel export``): raw padded features -> log-probs, argmax,
                   repeats merged and blanks dropped with numpy
    onnxruntime    the same with the ONNX export (skipped when onnx/onnxruntime are not installed)

Real-time factor = seconds of audio / wall seconds, one torch (and onnxruntime) thread. Without
``--checkpoint`` the model is the corpus config's (configs/an4.yaml: 3x256 BiLSTM, frames stacked
and subsampled by 3; configs/fsdd.yaml: 3x128, by 2) with random weights and global CMVN (speed
does not depend on the weights; the hypotheses are then meaningless).

    python benchmarks/bench_infer.py                              # AN4 training set (or synthetic)
    python benchmarks/bench_infer.py --checkpoint exp/x/best.pt --corpus fsdd --json infer.json
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np  # noqa: E402
import soundfile  # noqa: E402
import torch  # noqa: E402
from _common import ROOT, corpus_manifest, emit, machine, table

from seqlabel.config import load_config, to_dict  # noqa: E402
from seqlabel.data.manifest import read_manifest  # noqa: E402
from seqlabel.data.vocab import Vocab  # noqa: E402
from seqlabel.features import build_extractor  # noqa: E402
from seqlabel.features.cmvn import compute_stats  # noqa: E402
from seqlabel.inference.batch import greedy_transcribe, sorted_batches  # noqa: E402
from seqlabel.inference.export import export  # noqa: E402
from seqlabel.inference.recognizer import Recognizer  # noqa: E402
from seqlabel.models.bilstm import build_model  # noqa: E402
from seqlabel.models.checkpoint import save_checkpoint  # noqa: E402


def random_checkpoint(manifest: Path, path: Path, config_path: Path) -> Path:
    """The model of a config with random weights and global CMVN of the manifest's features: a checkpoint."""
    utts = read_manifest(manifest)
    config = load_config(config_path, ["features.cmvn=global"])
    extractor = build_extractor(config.features)
    feats = [extractor(u) for u in utts]
    vocab = Vocab.build([u.text for u in utts], "char")
    torch.manual_seed(0)
    model = build_model(feats[0].shape[1], len(vocab), config.model)
    save_checkpoint(path, {"config": to_dict(config), "vocab": vocab.state(), "input_dim": feats[0].shape[1],
                           "cmvn": compute_stats(feats).state(), "model": model.state_dict()})
    return path


def padded_batches(raw: Sequence[torch.Tensor], batch_frames: int, max_batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Raw features in the length-sorted batches seqlabel uses: (features (B, T, F), lengths (B,))."""
    out = []
    for indices in sorted_batches([x.shape[0] for x in raw], batch_frames, max_batch):
        lengths = np.array([raw[i].shape[0] for i in indices], dtype=np.int64)
        feats = np.zeros((len(indices), lengths.max(), raw[0].shape[1]), dtype=np.float32)
        for k, i in enumerate(indices):
            feats[k, : lengths[k]] = raw[i].numpy()
        out.append((feats, lengths))
    return out


def greedy_numpy(log_probs: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    """(B, T', C), (B,) -> class ids per item: best class per frame, repeats merged, blanks dropped."""
    out = []
    for lp, n in zip(log_probs, lengths):
        best = lp[:n].argmax(axis=1)
        keep = (best != 0) & np.concatenate([[True], best[1:] != best[:-1]])
        out.append(best[keep].tolist())
    return out


def exported_runner(path: Path, fmt: str, batches: list) -> Callable[[], int]:
    if fmt == "torchscript":
        module = torch.jit.load(str(path))

        def forward(feats: np.ndarray, lengths: np.ndarray):
            with torch.no_grad():
                lp, n = module(torch.from_numpy(feats), torch.from_numpy(lengths))
            return lp.numpy(), n.numpy()
    else:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def forward(feats: np.ndarray, lengths: np.ndarray):
            return tuple(session.run(None, {"features": feats, "lengths": lengths}))

    def run() -> int:
        return sum(len(greedy_numpy(*forward(f, n))) for f, n in batches)
    return run


def main(argv: Optional[Sequence[str]] = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="an4", choices=["an4", "fsdd", "synthetic"])
    ap.add_argument("--utterances", type=int, default=200, help="random subset (0: all)")
    ap.add_argument("--checkpoint", type=Path, help="a trained model [default: the model of --config, random weights]")
    ap.add_argument("--config", type=Path, help="[default: configs/CORPUS.yaml, configs/an4.yaml for synthetic]")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-frames", type=int, default=50000, help="as seqlabel decode")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench_infer.") as tmp:
        work = Path(tmp)
        manifest, what = corpus_manifest(args.corpus, work, args.utterances)
        config_path = args.config or ROOT / "configs" / f"{'an4' if args.corpus == 'synthetic' else args.corpus}.yaml"
        checkpoint = args.checkpoint or random_checkpoint(manifest, work / "random.pt", config_path)
        recognizer = Recognizer.from_checkpoint(checkpoint, "cpu")
        utts = read_manifest(manifest)
        audio = sum(soundfile.info(u.source).duration for u in utts)
        raw = [recognizer.extractor(u) for u in utts]
        normalised = recognizer.features(utts)
        batches = padded_batches(raw, args.batch_frames, 64)
        runners: dict[str, Callable[[], int]] = {"seqlabel": lambda: len(greedy_transcribe(
            recognizer.model, utts, normalised, recognizer.vocab, recognizer.device, args.batch_frames))}
        formats = ["torchscript"] + (["onnx"] if importlib.util.find_spec("onnxruntime") else [])
        for fmt in formats:
            try:
                path = export(checkpoint, work / f"model.{fmt}", fmt)
            except Exception as e:  # noqa: BLE001  (an export that fails is reported, not fatal)
                print(f"{fmt} export failed: {e}", file=sys.stderr)
                continue
            runners["onnxruntime" if fmt == "onnx" else fmt] = exported_runner(path, fmt, batches)
        for run in runners.values():
            run()  # warm-up
        seconds: dict[str, list[float]] = {name: [] for name in runners}
        for r in range(args.rounds):
            for name in (list(runners) if r % 2 == 0 else list(reversed(runners))):
                start = time.perf_counter()
                assert runners[name]() == len(utts)
                seconds[name].append(time.perf_counter() - start)
    rows = {name: {"seconds": [round(s, 3) for s in v], "rtf": round(audio / statistics.median(v), 1)}
            for name, v in seconds.items()}
    result = {"benchmark": "infer", "data": what, "utterances": len(utts), "audio_seconds": round(audio, 1),
              "model": str(args.checkpoint or f"{config_path.name} model, random weights, global CMVN"),
              "machine": machine(), "rows": rows}
    print(f"{what}: {len(utts)} utterances, {audio:.0f} s of audio; model {result['model']}")
    print(table([(name, statistics.median(seconds[name]), r["rtf"]) for name, r in rows.items()],
                ["forward + greedy", "median s", "x real time"]))
    return emit(result, args.json)


if __name__ == "__main__":
    main()
