"""Speed and accuracy of seqlabel's CTC beam search against pyctcdecode and torchaudio's flashlight
decoder, side by side on the same log-probs, with and without language models.

Not a test: a script that prints a table (time, utterances per second, speed ratio against
seqlabel, CER, WER) and the same as JSON.

Setup (the other decoders are installed for the benchmark only)::

    pip install --no-deps pyctcdecode pygtrie   # --no-deps: pyctcdecode pins numpy<2 and would
                                                # downgrade the numpy torch was built against
    pip install --no-deps flashlight-text       # optional: torchaudio's ctc_decoder

Missing decoders are skipped with a message. Run::

    python benchmarks/bench_decoders.py                      # synthetic log-probs from AN4 transcripts
    python benchmarks/bench_decoders.py --utterances 50 --beam 16
    python benchmarks/bench_decoders.py --checkpoint exp/an4/best.pt --manifest data/an4/dev.jsonl
    python benchmarks/bench_decoders.py --log-probs saved.npz  # log-probs kept by an earlier --save

Log-probs: by default synthetic, CTC-like and peaky, made from real transcripts (AN4's, when
``$SEQLABEL_SHARED_DATA/an4_wav`` is there, by default ``../shared/data``; else generated words):
each character gets one or two peaked frames followed by blanks, and some characters are confused
with another one, so greedy decoding makes errors that an LM can repair. With ``--checkpoint`` and
``--manifest`` they are a trained model's. LMs (a word bigram and a character 5-gram) are trained
by seqlabel on transcripts that are not decoded.

Matched settings: every beam search uses the same beam width, drops tokens below log-prob -5
per frame (pyctcdecode's default) and hypotheses 10 below the best (pyctcdecode's
``beam_prune_logp``); the word LM is the same object for seqlabel and pyctcdecode (through
pyctcdecode's ``AbstractLanguageModel``), with the same weight and per-word bonus. seqlabel's
rows marked "+skip" also skip frames whose blank probability is >= 0.999 (its default).

One at a time or together: pyctcdecode and flashlight decode one utterance per call; "seqlabel"
decodes all of them as one padded batch (as ``seqlabel decode`` and ``evaluate`` do), and
"seqlabel-1by1" one per call (as ``Recognizer.decode`` does, interactively). A
second table sets seqlabel-1by1 against each one-at-a-time decoder with the same LM (ms per
utterance, and their ratio), and the 1-minute load average is printed at the start and the end.

Scoring: each decoder's output tokens as they come, against the references, like ``seqlabel
evaluate`` (greedy is seqlabel's ``greedy_search``, so its CER is the one evaluate prints);
pyctcdecode returns text (words joined by single spaces), flashlight tokens framed by its
silence token, both read as text. "CER txt" reads every output as text first: a boundary
token at either end or after another one (an empty word) then counts as nothing, where the
token-level CER can count it as a hit. The time kept is the best of
``--repeat`` round-robin runs: on a shared machine compare ratios, not seconds. ``--clock cpu``
times the process's CPU time instead of the wall clock: every decoder here runs on one thread,
and CPU time leaves out the spells when another job has the core.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import emit  # noqa: E402
from _decoder_inputs import BOUNDARY, load_inputs, tokenize  # noqa: E402

from seqlabel.decoders import CTCPrefixBeamSearch, greedy_search  # noqa: E402
from seqlabel.lm import Lexicon, NgramLM, train_lm  # noqa: E402
from seqlabel.scoring.metrics import score, to_words  # noqa: E402


# ----------------------------------------------------------------------------- decoders
class PyctcdecodeLM:
    """A seqlabel NgramLM (word level) as a pyctcdecode language model: the same LM, weight and
    per-word bonus as seqlabel's word-LM fusion (no partial-word scoring)."""

    def __new__(cls, lm: NgramLM, alpha: float, beta: float):  # built lazily: pyctcdecode is optional
        from pyctcdecode.language_model import AbstractLanguageModel

        class _LM(AbstractLanguageModel):
            @property
            def order(self) -> int:
                return lm.order

            def get_start_state(self):
                return lm.begin()

            def score_partial_token(self, partial_token: str) -> float:
                return 0.0

            def score(self, prev_state, word: str, is_last_word: bool = False):
                total, state = 0.0, prev_state
                if word:
                    lp, state = lm.score(prev_state, word)
                    total = alpha * lp + beta
                if is_last_word:
                    total += alpha * lm.end_score(state)
                return total, state

        return _LM()


def text_tokens(text: str) -> list[str]:
    return tokenize(text)


def build_decoders(tokens: list[str], beam: int, word_lm: NgramLM, char_lm: NgramLM, lexicon: Lexicon,
                   word_arpa: Path, char_arpa: Path, lexicon_file: Path, weights: dict[str, float],
                   only: Optional[set[str]]) -> list[tuple[str, str, Callable[[np.ndarray], list[str]]]]:
    """(name, LM kind, decode function: list of log-probs (T, C) -> token lists) for every decoder that
    imports. seqlabel decodes the list as one padded batch (its lockstep search); "seqlabel-1by1"
    one utterance at a time, like the others."""
    out: list[tuple[str, str, Callable]] = []
    common = dict(beam=beam, token_min_logp=-5.0, beam_threshold=10.0)

    def one_by_one(fn: Callable[[np.ndarray], list[str]]) -> Callable:
        return lambda lps: [fn(lp) for lp in lps]

    def seqlabel(search: CTCPrefixBeamSearch) -> Callable:
        """Batched: the utterances padded to (B, T, C) with lengths, decoded in lockstep."""
        def run(lps: list[np.ndarray]) -> list[list[str]]:
            T = max(lp.shape[0] for lp in lps)
            padded = np.zeros((len(lps), T, len(tokens)))
            for b, lp in enumerate(lps):
                padded[b, : lp.shape[0]] = lp
            results = search.batch(padded, [lp.shape[0] for lp in lps])
            return [[tokens[i] for i in r[0].ids] for r in results]
        return run

    def seqlabel_single(search: CTCPrefixBeamSearch) -> Callable:
        return one_by_one(lambda lp: [tokens[i] for i in search(lp)[0].ids])

    def greedy(lp: np.ndarray) -> list[str]:  # what seqlabel evaluate's greedy decoding gives
        (ids, _), = greedy_search(torch.from_numpy(lp)[None], torch.tensor([lp.shape[0]]))
        return [tokens[i] for i in ids]

    wl, wb = weights["word_weight"], weights["word_bonus"]
    cl, cb = weights["char_weight"], weights["char_bonus"]
    out.append(("greedy", "none", one_by_one(greedy)))
    settings = {"none": {}, "word": dict(lm=word_lm, lm_unit="word", lm_weight=wl, insertion_bonus=wb),
                "char": dict(lm=char_lm, lm_weight=cl, insertion_bonus=cb),
                "lexicon+word": dict(lm=word_lm, lm_unit="word", lm_weight=wl, insertion_bonus=wb, lexicon=lexicon)}
    for kind, options in settings.items():
        out.append(("seqlabel", kind, seqlabel(CTCPrefixBeamSearch(tokens, **common, **options))))
        if kind in ("none", "word"):
            out.append(("seqlabel+skip", kind, seqlabel(CTCPrefixBeamSearch(tokens, **common, **options,
                                                                            blank_threshold=0.999))))
        out.append(("seqlabel-1by1", kind, seqlabel_single(CTCPrefixBeamSearch(tokens, **common, **options))))

    try:
        import logging

        logging.getLogger("pyctcdecode").setLevel(logging.ERROR)
        from pyctcdecode import Alphabet, BeamSearchDecoderCTC, build_ctcdecoder
    except ImportError:
        print("pyctcdecode not installed: skipped (pip install --no-deps pyctcdecode pygtrie)", file=sys.stderr)
    else:
        labels = ["" if i == 0 else (" " if t == BOUNDARY else t) for i, t in enumerate(tokens)]

        def pyctc(decoder: Any) -> Callable:
            return one_by_one(lambda lp: text_tokens(decoder.decode(lp, beam_width=beam, token_min_logp=-5.0,
                                                                    beam_prune_logp=-10.0)))

        out.append(("pyctcdecode", "none", pyctc(build_ctcdecoder(labels))))
        with_lm = BeamSearchDecoderCTC(Alphabet.build_alphabet(labels), PyctcdecodeLM(word_lm, wl, wb))
        out.append(("pyctcdecode", "word", pyctc(with_lm)))

    try:
        from torchaudio.models.decoder import ctc_decoder
        ctc_decoder(lexicon=None, tokens=tokens, blank_token=tokens[0], sil_token=BOUNDARY, unk_word="<unk>")
    except Exception as e:  # ImportError, or RuntimeError without flashlight-text
        print(f"torchaudio ctc_decoder unavailable: skipped ({str(e).splitlines()[0][:100]})", file=sys.stderr)
    else:
        def flashlight(decoder: Any) -> Callable:
            def run(lp: np.ndarray) -> list[str]:
                emissions = torch.from_numpy(lp.astype(np.float32)).unsqueeze(0)  # (1, T, C)
                best = decoder(emissions)[0][0]  # its tokens start and end with the silence token: read them as text
                return tokenize("".join(" " if tokens[i] == BOUNDARY else tokens[i] for i in best.tokens.tolist()))
            return one_by_one(run)

        fl = dict(tokens=tokens, blank_token=tokens[0], sil_token=BOUNDARY, unk_word="<unk>", beam_size=beam,
                  beam_size_token=None, beam_threshold=10.0)
        out.append(("flashlight", "none", flashlight(ctc_decoder(lexicon=None, lm=None, **fl))))
        out.append(("flashlight", "char", flashlight(ctc_decoder(lexicon=None, lm=str(char_arpa), lm_weight=cl,
                                                                 word_score=cb, **fl))))
        out.append(("flashlight", "lexicon+word", flashlight(ctc_decoder(
            lexicon=str(lexicon_file), lm=str(word_arpa), lm_weight=wl, word_score=wb, **fl))))
    if only:
        out = [d for d in out if re.split(r"[+-]", d[0])[0] in only or d[0] == "greedy"]
    return out


def as_text(tokens: Sequence[str]) -> list[str]:
    """Tokens read as text: one boundary between words, none at either end (an empty word is no word)."""
    return tokenize("".join(" " if t == BOUNDARY else t for t in tokens))


# ----------------------------------------------------------------------------- main
def main(argv: Optional[Sequence[str]] = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--utterances", type=int, default=200, help="utterances to decode")
    ap.add_argument("--beam", type=int, default=16)
    ap.add_argument("--texts", type=Path, help="transcripts (AN4 .transcription, JSONL manifest or lines)")
    ap.add_argument("--checkpoint", help="take log-probs from this model ...")
    ap.add_argument("--manifest", help="... on this manifest")
    ap.add_argument("--log-probs", type=Path, help="load log-probs, references and tokens saved with --save")
    ap.add_argument("--save", type=Path, help="save the log-probs, references and tokens used (.npz)")
    ap.add_argument("--lm-texts", type=Path, help="LM training transcripts [default: the undecoded --texts]")
    ap.add_argument("--confusion", type=float, default=0.15, help="synthetic: fraction of confused tokens")
    ap.add_argument("--word-weight", type=float, default=0.8)
    ap.add_argument("--word-bonus", type=float, default=1.0)
    ap.add_argument("--char-weight", type=float, default=0.5)
    ap.add_argument("--char-bonus", type=float, default=0.5)
    ap.add_argument("--only", help="comma-separated decoders to run (seqlabel, pyctcdecode, flashlight)")
    ap.add_argument("--repeat", type=int, default=5, help="time each decoder this many times, round robin (best kept)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="time by the wall clock or CPU time")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    load_start = round(os.getloadavg()[0], 2)
    inputs = load_inputs(args)
    log_probs, refs, tokens, lm_texts, source = (inputs.log_probs, inputs.refs, inputs.tokens, inputs.lm_texts,
                                                 inputs.source)
    if not lm_texts:
        raise SystemExit("no LM training texts left: give --lm-texts")
    if args.save:
        np.savez_compressed(args.save, log_probs=np.concatenate(log_probs).astype(np.float32),
                            lengths=np.array([lp.shape[0] for lp in log_probs]), tokens=np.array(tokens),
                            refs=np.array([" ".join(r) for r in refs]), source=np.array(source))

    tmp = Path(tempfile.mkdtemp(prefix="bench_decoders_"))
    word_lm = train_lm(texts=lm_texts, unit="word", order=2, out_arpa=tmp / "word.arpa")
    char_lm = train_lm(texts=lm_texts, unit="char", order=5, out_arpa=tmp / "char.arpa")
    words = sorted({w for t in lm_texts for w in t.split() if all(c in tokens for c in w)})
    lexicon = Lexicon.from_words(words)
    (tmp / "lexicon.txt").write_text("".join(f"{w} {' '.join(w)} {BOUNDARY}\n" for w in words))
    weights = {"word_weight": args.word_weight, "word_bonus": args.word_bonus, "char_weight": args.char_weight,
               "char_bonus": args.char_bonus}
    only = set(args.only.split(",")) if args.only else None
    decoders = build_decoders(tokens, args.beam, word_lm, char_lm, lexicon, tmp / "word.arpa", tmp / "char.arpa",
                              tmp / "lexicon.txt", weights, only)

    frames = sum(lp.shape[0] for lp in log_probs)
    print(f"{len(log_probs)} utterances, {frames} frames, {len(tokens)} classes, beam {args.beam}; {source}")
    print(f"LMs trained on {len(lm_texts)} transcripts ({len(words)} words)", flush=True)
    ref_map = {str(i): list(r) for i, r in enumerate(refs)}
    times = [math.inf] * len(decoders)
    outputs: list[list[list[str]]] = [[] for _ in decoders]
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    for rep in range(args.repeat):  # round robin, so that a busy spell of the machine hits all alike
        for k, (name, lm_kind, fn) in enumerate(decoders):
            start = clock()
            hyps = fn(log_probs)
            times[k] = min(times[k], clock() - start)
            outputs[k] = hyps
            if rep == args.repeat - 1:
                print(f"  {name:14s} lm={lm_kind:13s} {times[k]:8.3f} s", flush=True)
    rows = []
    for (name, lm_kind, _), best_time, hyps in zip(decoders, times, outputs):
        hyp_map = {str(i): list(h) for i, h in enumerate(hyps)}
        cer = score(ref_map, hyp_map, "char").total.rate
        cer_text = score(ref_map, {k: as_text(v) for k, v in hyp_map.items()}, "char").total.rate
        wer = score({k: to_words(v) for k, v in ref_map.items()}, {k: to_words(v) for k, v in hyp_map.items()},
                    "word").total.rate
        rows.append({"decoder": name, "lm": lm_kind, "seconds": best_time,
                     "ms_per_utt": 1000 * best_time / len(log_probs), "cer": cer, "cer_text": cer_text,
                     "wer": wer})

    def reference_time(lm_kind: str) -> Optional[float]:
        """seqlabel's time for the same LM kind (matched pruning, no blank skipping)."""
        for r in rows:
            if r["decoder"] == "seqlabel" and r["lm"] == lm_kind:
                return r["seconds"]
        return None

    print()
    print(f"{'decoder':14s} {'LM':13s} {'seconds':>8s} {'ms/utt':>8s} {'x seqlabel':>10s} "
          f"{'CER':>7s} {'CER txt':>7s} {'WER':>7s}")
    for r in rows:
        ref = reference_time(r["lm"])
        r["time_vs_seqlabel"] = None if ref is None or r["decoder"] == "greedy" else r["seconds"] / ref
        ratio = "" if r["time_vs_seqlabel"] is None else f"{r['time_vs_seqlabel']:.2f}"
        print(f"{r['decoder']:14s} {r['lm']:13s} {r['seconds']:8.3f} {r['ms_per_utt']:8.2f} {ratio:>10s} "
              f"{100 * r['cer']:6.2f}% {100 * r['cer_text']:6.2f}% {100 * r['wer']:6.2f}%")
    print("x seqlabel: time over seqlabel's time with the same LM (matched pruning); > 1 means seqlabel is faster")
    singles = one_by_one(rows)
    load = (load_start, round(os.getloadavg()[0], 2))
    print(f"1-minute load average: {load[0]} at the start, {load[1]} at the end ({os.cpu_count()} CPUs); "
          f"{'CPU' if args.clock == 'cpu' else 'wall-clock'} time, best of {args.repeat}")
    result = {"source": source, "utterances": len(log_probs), "frames": frames, "classes": len(tokens),
              "beam": args.beam, "weights": weights, "machine": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "load_1min": load, "clock": args.clock, "python": platform.python_version(),
              "rows": rows, "one_by_one": singles}
    return emit(result, args.json)


def one_by_one(rows: list[dict]) -> list[dict]:
    """Print and return seqlabel one utterance at a time ("seqlabel-1by1") against the decoders that
    decode one at a time, LM kind by LM kind: what ``Recognizer.decode`` does with one utterance."""
    mine = {r["lm"]: r for r in rows if r["decoder"] == "seqlabel-1by1"}
    pairs = [(mine[r["lm"]], r) for r in rows if r["decoder"] in ("pyctcdecode", "flashlight") and r["lm"] in mine]
    out = [{"lm": r["lm"], "decoder": r["decoder"], "seqlabel_ms_per_utt": s["ms_per_utt"],
            "decoder_ms_per_utt": r["ms_per_utt"], "decoder_over_seqlabel": r["seconds"] / s["seconds"]}
           for s, r in pairs]
    if out:
        print("\none utterance at a time (seqlabel-1by1, as Recognizer.decode decodes), ms per utterance:")
        print(f"  {'LM':13s} {'seqlabel':>9s}  {'decoder':12s} {'ms/utt':>7s}  decoder/seqlabel")
        for o in out:
            verdict = "seqlabel faster" if o["decoder_over_seqlabel"] > 1 else "seqlabel slower"
            print(f"  {o['lm']:13s} {o['seqlabel_ms_per_utt']:9.3f}  {o['decoder']:12s} "
                  f"{o['decoder_ms_per_utt']:7.3f}  {o['decoder_over_seqlabel']:.2f}x ({verdict})")
    return out


if __name__ == "__main__":
    main()
