"""How long `seqlabel report` takes to build the HTML report of a large evaluation.

Not a test: a script that prints a table and the same as JSON. It synthesises an evaluation folder
as `seqlabel evaluate --out` writes it (ref.txt, hyp.txt, summary.json and the other reports,
evaluation.json, a manifest whose utterances link 20 small WAV files; with --posteriors also
posteriors.npz: peaky float16 log-probs, 30 classes, 1-4 s at 25 output frames a second), character
units so that each utterance carries a CER and a WER alignment, then times the report build
(best of --repeat, wall clock and CPU time of this process; audio linked, not copied) and reports
the sizes it wrote.

    python benchmarks/bench_report.py                                  # 10,000 utterances
    python benchmarks/bench_report.py --utterances 10000 --posteriors --json report.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np
from _common import emit, machine, table

from seqlabel.data.transcripts import write_kaldi_text  # noqa: E402
from seqlabel.scoring.evaluation import score_tokens, write_reports  # noqa: E402
from seqlabel.scoring.html import ReportOptions, build_report  # noqa: E402
from seqlabel.scoring.html.folder import EvalInfo, write_info  # noqa: E402
from seqlabel.scoring.posteriors import write_posteriors  # noqa: E402
from seqlabel.types import Hypothesis  # noqa: E402

WORDS = ("the of and to in is was he for it with as his on be at by had are but from or have an they which one "
         "you were all we her she there would their will when who him been has more if no out so said what up its "
         "about than into them can only other time new some could these two may first then do any like my now over "
         "such our man me even most made after also did many off before must through back years where much your "
         "way well down should because each just those people how too little state good very make world still").split()
LETTERS = sorted(set("".join(WORDS)))
CLASSES = ["|", *LETTERS]
FRAMES_PER_SECOND = 25


def synthesize(root: Path, n: int, posteriors: bool, seed: int = 0) -> Path:
    """An evaluation folder of ``n`` character utterances (about 5 % CER); returns it."""
    import soundfile

    rng = np.random.default_rng(seed)
    media = root / "wav"
    media.mkdir(parents=True)
    for k in range(20):
        t = np.arange(8000) / 8000
        soundfile.write(str(media / f"w{k}.wav"), 0.3 * np.sin(2 * np.pi * (200 + 50 * k) * t), 8000)
    refs, hyps, rows = {}, {}, []
    for i in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(3, 15)))
        ref = list("|".join(words))
        hyp = []
        for c in ref:
            x = rng.random()
            if x < 0.02:
                continue  # deletion
            hyp.append(str(rng.choice(LETTERS)) if x < 0.05 else c)
            if rng.random() < 0.01:
                hyp.append(str(rng.choice(LETTERS)))  # insertion
        utt = f"spk{i % 100:03d}-utt{i:06d}"
        refs[utt], hyps[utt] = ref, hyp
        rows.append({"id": utt, "source": f"wav/w{i % 20}.wav", "text": " ".join(words),
                     "speaker": f"spk{i % 100:03d}", "duration": round(len(ref) / 12, 2)})
    manifest = root / "test.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = root / "eval"
    report = score_tokens(refs, hyps, "char", "|", speakers={r["id"]: r["speaker"] for r in rows})
    write_kaldi_text(out / "ref.txt", refs.items())
    write_kaldi_text(out / "hyp.txt", hyps.items())
    write_reports(out, report)
    write_info(out, EvalInfo("char", "|", None, str(manifest.resolve()), "synthetic.pt", "fbank", "greedy"))
    if posteriors:
        write_posteriors(out / "posteriors.npz", *_posteriors(hyps, rng), ["<blank>", *CLASSES], 1 / FRAMES_PER_SECOND)
    return out


def _posteriors(hyps: dict[str, list[str]], rng: np.random.Generator) -> tuple[list[Hypothesis], list[np.ndarray]]:
    """Peaky CTC-like log-probs: blank everywhere except one frame per hypothesis token."""
    index = {c: k + 1 for k, c in enumerate(CLASSES)}
    out_h, out_lp = [], []
    for utt, hyp in hyps.items():
        T = max(2 * len(hyp) + 1, int(len(hyp) / 12 * FRAMES_PER_SECOND * 2))
        logits = rng.normal(0, 1, size=(T, len(CLASSES) + 1)).astype(np.float32)
        logits[:, 0] += 8
        frames = np.sort(rng.choice(np.arange(1, T), size=len(hyp), replace=False)) if hyp else np.zeros(0, int)
        for f, c in zip(frames, hyp):
            logits[f, index[c]] += 9
        lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        conf = tuple(float(np.exp(lp[f, index[c]])) for f, c in zip(frames, hyp))
        out_h.append(Hypothesis(utt, tuple(hyp), timesteps=tuple(int(f) for f in frames), durations=(1,) * len(hyp),
                                token_confidences=conf))
        out_lp.append(lp)
    return out_h, out_lp


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=10000)
    parser.add_argument("--posteriors", action="store_true", help="also keep (and show) posteriorgrams")
    parser.add_argument("--single-file", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        folder = synthesize(root, args.utterances, args.posteriors)
        made = time.perf_counter() - t0
        times, cpu = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            index = build_report([folder], root / "report", options=ReportOptions(single_file=args.single_file))
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        result = {"utterances": args.utterances, "posteriors": args.posteriors, "single_file": args.single_file,
                  "build_seconds_best": round(min(times), 3), "build_seconds_all": [round(t, 3) for t in times],
                  "build_cpu_seconds_best": round(min(cpu), 3),
                  "index_html_bytes": index.stat().st_size, "report_bytes": folder_size(root / "report"),
                  "eval_folder_bytes": folder_size(folder), "synthesis_seconds": round(made, 1),
                  "machine": machine()}
    print(table([[result["utterances"], args.posteriors, result["build_seconds_best"], result["build_cpu_seconds_best"],
                  round(result["index_html_bytes"] / 1e6, 2), round(result["report_bytes"] / 1e6, 2)]],
                ["utterances", "posteriors", "build s (best)", "CPU s (best)", "index.html MB", "report MB"]))
    return emit(result, args.json)


if __name__ == "__main__":
    main()
