"""What the report page holds, as plain data: the utterance table (one JSON object of columns,
embedded in index.html), the per-utterance details the page loads on demand (token confidences,
posteriorgrams, pen strokes; in chunks of ``CHUNK`` utterances), and the summary the template
renders (rates, S/D/I, speakers, confusions, histogram, significance test).

Alignments travel as sclite-exact op strings over "CSDI" from ``seqlabel.scoring.metrics`` with
the token sequences they align; the page only walks them, it never aligns.
"""
from __future__ import annotations

import base64
import json
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from seqlabel.scoring.metrics import ScoreResult
from seqlabel.scoring.posteriors import Posteriors
from seqlabel.scoring.report import confusions, rate_name, speaker_scores
from seqlabel.scoring.significance import Comparison, Interval, format_p
from seqlabel.types import ErrorStats

CHUNK = 200  # utterances per detail chunk
TOP_CONFUSIONS = 15
MIN_POSTERIOR = 0.02  # a class gets a posteriorgram row when its posterior reaches this somewhere
MAX_ROWS = 40  # posteriorgram rows per utterance (the classes with the highest peaks)
LEVELS = 32  # shades of the posteriorgram images
PALETTE = bytes(int(round(255 - k / (LEVELS - 1) * d)) for k in range(LEVELS) for d in (230, 190, 90))  # white -> blue
HISTOGRAM_BINS = 20  # of 5 points each from 0 to 100%, plus "0" and "over 100%"


@dataclass(frozen=True)
class System:
    """One evaluation in the report: its label, scores (in the report's utterance order) and kept posteriors."""

    label: str
    tokens: ScoreResult
    words: Optional[ScoreResult]
    tokens_ci: Optional[Interval]
    words_ci: Optional[Interval]
    folding: Optional[str]
    posteriors: Optional[Posteriors]
    details: Mapping[str, str]  # checkpoint, decoder, folder: shown in the summary


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no ``</``, ``<!--``, ``&`` or U+2028/2029 left literal."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


# ---- the utterance table ------------------------------------------------------------------------

def table_data(systems: Sequence[System], speakers: Mapping[str, str], durations: Sequence[Optional[float]],
               media: Sequence[Any], boundary: str) -> dict[str, Any]:
    """Columns of the utterance table; per-system hypotheses and alignments under ``sys``."""
    first = systems[0]
    names = sorted(set(speakers.values()))
    index = {s: k for k, s in enumerate(names)}
    utts = first.tokens.utterances
    u: dict[str, Any] = {
        "id": [x.id for x in utts],
        "spk": [index[speakers[x.id]] for x in utts],
        "dur": [None if d is None else round(d, 3) for d in durations],
        "ref": [" ".join(x.ref) for x in utts],
        "mk": [m.kind for m in media], "src": [m.src for m in media], "note": [m.note for m in media],
    }
    if first.words is not None:
        u["wref"] = [" ".join(x.ref) for x in first.words.utterances]
    out_systems = []
    for s in systems:
        entry: dict[str, Any] = {"hyp": [" ".join(x.hyp) for x in s.tokens.utterances],
                                 "ops": [x.ops for x in s.tokens.utterances]}
        if s.words is not None:
            entry["whyp"] = [" ".join(x.hyp) for x in s.words.utterances]
            entry["wops"] = [x.ops for x in s.words.utterances]
        if s.posteriors is not None:
            entry["conf"] = _utterance_confidences(s.posteriors, [x.id for x in utts])
        out_systems.append(entry)
    return {"speakers": names, "u": u, "sys": out_systems, "boundary": boundary}


def _utterance_confidences(post: Posteriors, ids: Sequence[str]) -> list[Optional[float]]:
    """Geometric mean of the token confidences (as the Hypothesis record defines it), None without tokens."""
    where = post.index()
    logs = np.log(np.maximum(post.confidences.astype(np.float64), 1e-12))
    sums = np.concatenate([[0.0], np.cumsum(logs)])
    out: list[Optional[float]] = []
    for utt_id in ids:
        k = where[utt_id]
        a, b = int(post.token_offsets[k]), int(post.token_offsets[k + 1])
        out.append(None if b == a else round(float(np.exp((sums[b] - sums[a]) / (b - a))), 4))
    return out


def durations(ids: Sequence[str], utts: Mapping[str, Any], posteriors: Optional[Posteriors]) -> list[Optional[float]]:
    """Seconds per utterance: the manifest's duration (or end - start), else output frames x frame seconds."""
    where = posteriors.index() if posteriors is not None and posteriors.frame_seconds else {}
    out: list[Optional[float]] = []
    for utt_id in ids:
        utt = utts.get(utt_id)
        if utt is not None and utt.duration is not None:
            out.append(float(utt.duration))
        elif utt is not None and utt.start is not None and utt.end is not None:
            out.append(float(utt.end - utt.start))
        elif utt_id in where:
            k = where[utt_id]
            out.append(float(posteriors.frame_offsets[k + 1] - posteriors.frame_offsets[k]) * posteriors.frame_seconds)
        else:
            out.append(None)
    return out


# ---- details, loaded by the page when an utterance is opened ------------------------------------

def detail_chunks(systems: Sequence[System], strokes: Sequence[Optional[list[list[int]]]]) -> list[dict[str, Any]]:
    """Per chunk of CHUNK utterances: for each utterance and system the token confidences (percent),
    start frames and durations, and the posteriorgram; the strokes of online handwriting."""
    ids = [x.id for x in systems[0].tokens.utterances]
    if all(s.posteriors is None for s in systems) and not any(strokes):
        return []
    where = [s.posteriors.index() if s.posteriors is not None else None for s in systems]
    chunks = []
    for start in range(0, len(ids), CHUNK):
        rows = []
        for i in range(start, min(start + CHUNK, len(ids))):
            per_system = [None if w is None else _detail(s.posteriors, w[ids[i]]) for s, w in zip(systems, where)]
            rows.append({"s": per_system, "k": strokes[i]})
        chunks.append({"u": rows})
    return chunks


def _detail(post: Posteriors, k: int) -> dict[str, Any]:
    conf, starts, durs = post.tokens_of(k)
    return {"c": np.rint(conf.astype(np.float32) * 100).astype(np.int64).tolist(), "t": starts.tolist(),
            "d": durs.tolist(), "p": posteriorgram(post.log_probs_of(k), post.tokens),
            "fs": post.frame_seconds}


def posteriorgram(log_probs: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """(T', C) log-probs -> the rows worth drawing: classes whose posterior reaches MIN_POSTERIOR (at most
    MAX_ROWS, highest peaks first, shown in class order), as a palette PNG (R rows x T' columns, LEVELS
    shades from white to dark blue), base64: mostly-white images compress to a few hundred bytes."""
    p = np.exp(log_probs.astype(np.float32))  # (T', C)
    peaks = p.max(axis=0) if len(p) else np.zeros(p.shape[1], np.float32)  # (C,)
    rows = np.flatnonzero(peaks >= MIN_POSTERIOR)
    if len(rows) > MAX_ROWS:
        rows = np.sort(rows[np.argsort(-peaks[rows], kind="stable")[:MAX_ROWS]])
    shades = np.rint(p[:, rows].T * (LEVELS - 1)).astype(np.uint8)  # (R, T')
    return {"rows": [labels[r] for r in rows], "T": int(p.shape[0]),
            "png": base64.b64encode(palette_png(shades)).decode("ascii") if shades.size else ""}


def palette_png(index: np.ndarray) -> bytes:
    """A PNG of palette indices (H, W) uint8 < LEVELS, with the PALETTE ramp (written directly: no imaging library)."""
    height, width = index.shape
    raw = np.zeros((height, width + 1), dtype=np.uint8)  # each row starts with filter type 0 (none)
    raw[:, 1:] = index

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
            + chunk(b"PLTE", PALETTE) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


# ---- the summary the template renders -----------------------------------------------------------

def percent(rate: float) -> str:
    return f"{100 * rate:.2f}%" if math.isfinite(rate) else "inf"


def stats_row(t: ErrorStats) -> dict[str, Any]:
    return {"utterances": t.utterances, "ref_tokens": t.ref_tokens, "correct": t.hits, "sub": t.substitutions,
            "del": t.deletions, "ins": t.insertions, "errors": t.errors, "rate": percent(t.rate),
            "rate_value": t.rate if math.isfinite(t.rate) else None}


def rate_block(result: ScoreResult, folding: Optional[str], ci: Optional[Interval]) -> dict[str, Any]:
    return {"name": rate_name(result, folding), **stats_row(result.total),
            "ci": None if ci is None else f"{100 * ci.level:g}% CI {100 * ci.low:.2f}-{100 * ci.high:.2f}%"}


def speaker_rows(systems: Sequence[System], speakers: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per speaker: each system's counts; sorted by the first system's rate, highest first (then by name)."""
    per_system = [{s.speaker: s.stats for s in speaker_scores(sys.tokens, speakers)} for sys in systems]
    rows = []
    for name in per_system[0]:
        rows.append({"speaker": name, "systems": [stats_row(p[name]) for p in per_system],
                     "delta": None if len(systems) < 2 else _delta(per_system[0][name], per_system[1][name])})
    rows.sort(key=lambda r: (-_sortable(r["systems"][0]["rate_value"]), r["speaker"]))
    return rows


def _delta(a: ErrorStats, b: ErrorStats) -> str:
    if not (math.isfinite(a.rate) and math.isfinite(b.rate)):
        return ""
    return f"{100 * (b.rate - a.rate):+.2f}"


def _sortable(rate: Optional[float]) -> float:
    return math.inf if rate is None else rate


def confusion_tables(result: ScoreResult, top: int = TOP_CONFUSIONS) -> dict[str, Any]:
    c = confusions(result)
    return {"subs": c.substitutions[:top], "dels": c.deletions[:top], "ins": c.insertions[:top],
            "n_subs": len(c.substitutions), "n_dels": len(c.deletions), "n_ins": len(c.insertions)}


def histogram(result: ScoreResult, width: int = 440, height: int = 150) -> dict[str, Any]:
    """Per-utterance error rates in bins (0, then 5-point bins to 100%, then over 100%) as SVG bars."""
    errors = np.array([u.stats.errors for u in result.utterances], dtype=np.float64)
    refs = np.array([u.stats.ref_tokens for u in result.utterances], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(refs > 0, 100 * errors / np.maximum(refs, 1), np.where(errors > 0, np.inf, 0.0))
    edges = np.arange(0, 101, 100 // HISTOGRAM_BINS)  # 0, 5, ..., 100
    counts = [int((rates == 0).sum())]
    counts += [int(((rates > lo) & (rates <= hi)).sum()) for lo, hi in zip(edges[:-1], edges[1:])]
    counts.append(int((rates > 100).sum()))
    labels = ["0%"] + [f"{lo}-{hi}%" for lo, hi in zip(edges[:-1], edges[1:])] + [">100%"]
    top = max(max(counts), 1)
    left, bottom, plot_h = 34, 22, height - 30
    bar_w = (width - left - 4) / len(counts)
    bars = []
    for k, (n, label) in enumerate(zip(counts, labels)):
        h = plot_h * n / top
        bars.append({"x": round(left + k * bar_w + 1, 1), "y": round(height - bottom - h, 1),
                     "w": round(bar_w - 2, 1), "h": round(h, 1), "count": n, "label": label})
    ticks = [{"x": round(left + k * bar_w + bar_w / 2, 1), "label": lab}
             for k, lab in ((0, "0"), (len(counts) // 2, "50"), (len(counts) - 2, "100"))]
    return {"width": width, "height": height, "bars": bars, "top": top, "left": left,
            "base": height - bottom, "ticks": ticks}


def comparison_row(c: Comparison, folding: Optional[str] = None) -> dict[str, Any]:
    name = f"{c.name} ({folding})" if folding else c.name
    if c.method == "mapsswe":
        test = f"MAPSSWE over {c.samples} segments, Z = {c.statistic:.3f}"
    else:
        test = f"paired bootstrap over {c.samples} resamples, B not worse in {100 * c.statistic:.1f}%"
    better = "B better" if c.difference < 0 else "B worse" if c.difference > 0 else "no difference"
    return {"name": name, "a": percent(c.rate_a), "b": percent(c.rate_b), "diff": f"{100 * c.difference:+.2f}",
            "test": test, "p": format_p(c.p_value, c), "significant": c.significant(), "direction": better}


def change_counts(a: ScoreResult, b: ScoreResult) -> dict[str, int]:
    """Utterances with fewer (better), more (worse) and as many errors in B as in A."""
    ea = np.array([u.stats.errors for u in a.utterances])
    eb = np.array([u.stats.errors for u in b.utterances])
    return {"better": int((eb < ea).sum()), "worse": int((eb > ea).sum()), "same": int((eb == ea).sum())}
