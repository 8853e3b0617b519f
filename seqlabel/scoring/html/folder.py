"""An evaluation folder (``seqlabel evaluate --out DIR``) read back for the HTML report.

The report shows the alignment the scores came from: ref.txt and hyp.txt are scored again with
``score_tokens`` (the same sclite-exact alignment, folding and word-boundary handling as
``evaluate``), and the totals must equal summary.json's, or the folder is refused. The interval
is summary.json's (the one ``evaluate`` printed), not a new bootstrap, and so are the Unicode normal
form and the note on reference tokens outside the model's vocabulary. ``evaluation.json`` (written
by ``evaluate`` since the report exists) names the manifest, the word boundary and the features;
older folders work without it (``--manifest`` then supplies the media and speakers).
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from seqlabel.data.transcripts import read_kaldi_text, write_kaldi_text
from seqlabel.errors import DataError
from seqlabel.scoring.evaluation import EvalReport, score_tokens, write_reports
from seqlabel.scoring.posteriors import FILE as POSTERIORS_FILE
from seqlabel.scoring.posteriors import Posteriors, read_posteriors, write_posteriors
from seqlabel.scoring.significance import Interval
from seqlabel.types import Hypothesis

log = logging.getLogger(__name__)

INFO_FILE = "evaluation.json"
_COUNTS = ("substitutions", "deletions", "insertions", "ref_tokens")


@dataclass(frozen=True)
class EvalInfo:
    """How an evaluation was made: what the report needs beyond the scores."""

    unit: str  # char | phone
    word_boundary: str = "|"
    folding: Optional[str] = None
    manifest: Optional[str] = None  # absolute path of the evaluated manifest
    checkpoint: Optional[str] = None
    features: Optional[str] = None  # features.type: fbank, mfcc, logmel, precomputed, image, strokes
    decoder: Optional[str] = None  # greedy | beam


def write_info(out_dir: str | Path, info: EvalInfo) -> Path:
    path = Path(out_dir) / INFO_FILE
    path.write_text(json.dumps(asdict(info), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# write_posteriors' arguments after its path: hypotheses, their log-probs (T', C), tokens, frame seconds
PosteriorArgs = tuple[Sequence[Hypothesis], Sequence[np.ndarray], Sequence[str], Optional[float]]


def write_folder(out_dir: str | Path, refs: dict[str, list[str]], hyps: dict[str, list[str]], report: EvalReport,
                 info: EvalInfo, posteriors: Optional[PosteriorArgs] = None, html: bool = False) -> Path:
    """What ``evaluate --out DIR`` writes: ref.txt and hyp.txt (unfolded tokens), the reports of
    ``write_reports``, evaluation.json, and with ``posteriors`` (the arguments of ``write_posteriors`` after
    its path) posteriors.npz; another run's posteriors.npz never stays beside these scores. An HTML report
    of an earlier evaluation there is said to be out of date unless ``html`` (it is then rebuilt)."""
    out = Path(out_dir)
    if not html and (out / "report" / "index.html").is_file():
        log.warning(f"note: {out / 'report'} holds the HTML report of an earlier evaluation, not of this one: "
                    f"rebuild it (seqlabel report {out}) or evaluate with --html")
    out.mkdir(parents=True, exist_ok=True)
    write_kaldi_text(out / "ref.txt", refs.items())
    write_kaldi_text(out / "hyp.txt", hyps.items())
    write_reports(out, report, system=str(info.checkpoint))
    write_info(out, info)
    (out / POSTERIORS_FILE).unlink(missing_ok=True)
    if posteriors is not None:
        write_posteriors(out / POSTERIORS_FILE, *posteriors)
    return out


def read_info(folder: Path) -> Optional[EvalInfo]:
    path = folder / INFO_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return EvalInfo(**{k: data[k] for k in EvalInfo.__dataclass_fields__ if k in data})
    except (json.JSONDecodeError, TypeError) as e:
        raise DataError(f"{path}: not a valid evaluation description ({e}); delete it and pass --manifest") from None


@dataclass(frozen=True)
class EvalFolder:
    path: Path
    report: EvalReport  # scored again from ref.txt / hyp.txt; intervals from summary.json
    info: EvalInfo
    posteriors: Optional[Posteriors]  # when evaluate ran with --keep-posteriors
    unknown_note: str = ""  # summary.json's note on reference tokens outside the model's vocabulary

    @property
    def label(self) -> str:
        return self.path.name or str(self.path)


def load_folder(folder: str | Path, word_boundary: Optional[str] = None) -> EvalFolder:
    """Read and re-score an evaluation folder; every problem names the file and the fix."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"evaluation folder not found: {folder} (make one with `seqlabel evaluate CHECKPOINT "
                        "MANIFEST --out DIR`)")
    for name in ("ref.txt", "hyp.txt", "summary.json"):
        if not (folder / name).is_file():
            raise DataError(f"{folder} has no {name}: the report reads the folder `seqlabel evaluate ... --out "
                            f"{folder}` writes (`seqlabel score --out` folders lack ref.txt/hyp.txt); re-run evaluate")
    summary = _read_summary(folder / "summary.json")
    tokens = summary["tokens"]
    info = read_info(folder) or EvalInfo(unit=tokens["unit"], folding=tokens.get("folding"))
    if word_boundary is not None:
        info = replace(info, word_boundary=word_boundary)
    refs, hyps = read_kaldi_text(folder / "ref.txt"), read_kaldi_text(folder / "hyp.txt")
    # the normal form evaluate used (folders written before Unicode normalisation: none)
    report = score_tokens(refs, hyps, tokens["unit"], info.word_boundary, fold=tokens.get("folding"),
                          sources=(str(folder / "ref.txt"), str(folder / "hyp.txt")), interval=False,
                          normalize=summary.get("normalization") or "none")
    _check_same(folder, "tokens", tokens, report.tokens.total)
    words = summary.get("words")
    if words is not None and report.words is not None:
        _check_same(folder, "words", words, report.words.total)
    report = replace(report, tokens_ci=_interval(tokens.get("ci")),
                     words_ci=_interval(words.get("ci")) if words else None)
    post_path = folder / POSTERIORS_FILE
    posteriors = read_posteriors(post_path) if post_path.is_file() else None
    if posteriors is not None and set(posteriors.ids) != set(refs):
        raise DataError(f"{post_path} holds other utterances than {folder / 'ref.txt'} ({len(posteriors.ids)} vs "
                        f"{len(refs)}): it is left from another evaluation; delete it or re-run evaluate")
    unknown = summary.get("unknown_reference_tokens") or {}
    return EvalFolder(folder, report, info, posteriors, unknown.get("note", ""))


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e.msg}, line {e.lineno}); re-run `seqlabel evaluate`") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("tokens"), dict) or "unit" not in summary["tokens"]:
        raise DataError(f"{path}: not a seqlabel summary (no tokens.unit); re-run `seqlabel evaluate`")
    return summary


def _check_same(folder: Path, level: str, written: dict[str, Any], total: Any) -> None:
    """summary.json's counts must be those of ref.txt/hyp.txt: else the files were edited or mixed."""
    now = {"substitutions": total.substitutions, "deletions": total.deletions, "insertions": total.insertions,
           "ref_tokens": total.ref_tokens}
    differ = [f"{k} {written[k]} vs {now[k]}" for k in _COUNTS if k in written and written[k] != now[k]]
    if differ:
        raise DataError(f"{folder}: summary.json ({level}) does not match ref.txt/hyp.txt scored again "
                        f"({', '.join(differ)}): the files come from different runs; re-run `seqlabel evaluate`")


def _interval(ci: Optional[dict[str, Any]]) -> Optional[Interval]:
    if not ci:
        return None
    return Interval(ci["low"], ci["high"], ci.get("level", 0.95), ci.get("resamples", 1000), ci.get("seed", 0))
