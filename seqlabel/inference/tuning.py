"""Tuning the beam search on a dev set: a grid of LM weight x insertion bonus, the model run once,
each setting a re-decoding of the stored log-probs, every row scored like ``seqlabel evaluate``.

What the report recommends is never worse than greedy decoding: when no setting of the grid beats
the greedy best path, it recommends ``--decoder greedy``. Without an LM the weight changes nothing,
so only the insertion bonus is tuned. A best setting at the edge of the grid is said, with the next
values to try. The recommendation is a complete command-line fragment (decoder, beam, LM, LM unit,
lexicon, weight, bonus and any other decode setting given), so pasting it decodes as tuned.
"""
from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass
from typing import Optional, Sequence

from seqlabel.decoders.greedy import GreedyDecoder
from seqlabel.errors import ConfigError, DataError
from seqlabel.inference.batch import search_all
from seqlabel.inference.recognizer import Recognizer
from seqlabel.scoring.evaluation import EvalReport, score_tokens
from seqlabel.scoring.metrics import RATE_NAMES
from seqlabel.scoring.prepare import UnknownTokens, reference_tokens
from seqlabel.scoring.report import summary_line
from seqlabel.types import ErrorStats, Utterance

log = logging.getLogger(__name__)

# decode settings the recommendation writes itself (the rest of the user's overrides are repeated)
_OWN = ("decoder", "beam", "lm", "lm_unit", "lexicon", "lm_weight", "insertion_bonus")


@dataclass(frozen=True)
class TuneRow:
    """One decoding setting's scores on the dev set (None weight and bonus: the greedy baseline;
    None weight alone: no LM, so the weight was not tuned)."""

    lm_weight: Optional[float]
    insertion_bonus: Optional[float]
    tokens: ErrorStats
    words: Optional[ErrorStats]

    @property
    def is_greedy(self) -> bool:
        return self.insertion_bonus is None


@dataclass(frozen=True)
class TuneReport:
    rows: tuple[TuneRow, ...]  # the grid, in order
    greedy: TuneRow
    token_name: str  # PER or CER
    metric: str  # "token" or "word": what ``best`` minimises
    settings: tuple[str, ...] = ()  # decode.KEY=VALUE of the search besides weight and bonus
    weights: tuple[float, ...] = ()  # the grid's axes, as tried (empty weights: no LM)
    bonuses: tuple[float, ...] = ()
    unknown: Optional[UnknownTokens] = None  # reference tokens the model does not have
    flags: tuple[str, ...] = ()  # command-line flags the decoding needs besides the settings (--adapt-norms)

    def rate(self, row: TuneRow) -> float:
        """The rate ``metric`` asks for (the word error rate, or the token error rate)."""
        return row.words.rate if self.metric == "word" and row.words is not None else row.tokens.rate

    def _key(self, row: TuneRow) -> tuple[float, float]:
        return (self.rate(row), row.tokens.rate)

    @property
    def best(self) -> TuneRow:
        """The best setting of the grid (it may be worse than greedy: see ``recommended``)."""
        return min(self.rows, key=self._key)

    @property
    def recommended(self) -> TuneRow:
        """The best grid setting if it beats greedy decoding, else the greedy row."""
        return self.best if self._key(self.best) < self._key(self.greedy) else self.greedy

    @property
    def rate_name(self) -> str:
        return "WER" if self.metric == "word" and self.greedy.words is not None else self.token_name

    def command(self, row: Optional[TuneRow] = None) -> str:
        """The command-line options that decode as ``row`` (default: the recommended one)."""
        row = row or self.recommended
        if row.is_greedy:
            return " ".join([*self.flags, "--decoder greedy"])
        own = [*self.settings]
        if row.lm_weight is not None:
            own.append(f"decode.lm_weight={row.lm_weight:g}")
        own.append(f"decode.insertion_bonus={row.insertion_bonus:g}")
        return " ".join([*self.flags, "--decoder beam", *(f"-o {shlex.quote(s)}" for s in own)])

    def notes(self) -> list[str]:
        """What the grid says beyond its rows: no LM, greedy wins, best on an edge, unknown tokens."""
        out = []
        if not self.weights:
            out.append("no LM (--lm or -o decode.lm=...): the LM weight changes nothing, so only the insertion bonus "
                       "was tuned")
        best = self.best
        if self.recommended.is_greedy:
            out.append(f"no setting of the grid beats greedy decoding (best {self.rate_name} "
                       f"{100 * self.rate(best):.2f}% at {self._where(best)}): decode greedily, or try other values")
        for name, label, option, axis, floor in (("lm_weight", "LM weight", "--weights", self.weights, 0.0),
                                                 ("insertion_bonus", "insertion bonus", "--bonus", self.bonuses, None)):
            value = getattr(best, name)
            more = next_values(axis, self._equally_good(name), floor)
            if more:
                side = "largest" if value == max(axis) else "smallest"
                out.append(f"the best {label}, {value:g}, is the {side} tried: try {option} {more}")
        if self.unknown is not None:
            out.append(self.unknown.note())
        return out

    def _equally_good(self, name: str) -> set[float]:
        """The values of axis ``name`` that score as well as the best row, the other axis held at its value."""
        best = self.best
        other = "insertion_bonus" if name == "lm_weight" else "lm_weight"
        return {getattr(r, name) for r in self.rows
                if getattr(r, other) == getattr(best, other) and self._key(r) == self._key(best)}

    def _where(self, row: TuneRow) -> str:
        weight = "" if row.lm_weight is None else f"lm_weight {row.lm_weight:g}, "
        return f"{weight}bonus {row.insertion_bonus:g}"

    def table(self) -> str:
        words = self.greedy.words is not None
        lines = [f"{'lm_weight':>9}  {'bonus':>6}  {self.token_name:>7}" + (f"  {'WER':>7}" if words else "")]
        for r in (*self.rows, self.greedy):
            w = "greedy" if r.is_greedy else "-" if r.lm_weight is None else f"{r.lm_weight:g}"
            b = "" if r.insertion_bonus is None else f"{r.insertion_bonus:g}"
            line = f"{w:>9}  {b:>6}  {100 * r.tokens.rate:6.2f}%"
            if r.words is not None:
                line += f"  {100 * r.words.rate:6.2f}%"
            lines.append(line)
        rec = self.recommended
        versus = "" if rec.is_greedy else f"; greedy {100 * self.rate(self.greedy):.2f}%"
        lines.append(f"best: {self.command(rec)} ({self.rate_name} {100 * self.rate(rec):.2f}%{versus})")
        lines += [f"note: {n}" for n in self.notes()]
        return "\n".join(lines)


def next_values(axis: Sequence[float], best: set[float], floor: Optional[float]) -> str:
    """When the best values of an ``axis`` of two or more values are its largest or its smallest alone
    (``best``: the values that score as well as the best; an interior one, or all of them, mean
    the optimum is inside the grid or the axis does not matter), the edge and the next values past it,
    with the axis's step there and none below ``floor``, as ``a,b,c``; else ''."""
    values = sorted(set(axis))
    if len(values) < 2 or best != {values[0]} and best != {values[-1]}:
        return ""
    value = next(iter(best))
    if value == values[-1]:
        step = values[-1] - values[-2]
        more = [value + k * step for k in range(3)]
    else:
        step = values[1] - values[0]
        more = sorted({v if floor is None else max(floor, v) for v in (value - 2 * step, value - step, value)})
        if len(more) < 2:
            return ""
    return ",".join(f"{round(v, 6):g}" for v in more)


def tune(recognizer: Recognizer, utts: Sequence[Utterance], weights: Sequence[float], bonuses: Sequence[float],
         metric: Optional[str] = None, overrides: Sequence[str] = (), source: str = "dev set",
         progress: bool = True) -> TuneReport:
    """Grid search of LM weight x insertion bonus for ``recognizer``'s beam search on ``utts``.

    ``overrides``: the ``decode.KEY=VALUE`` settings the recognizer was built with (repeated in the
    recommendation). ``metric``: ``word`` (default for character models) or ``token``.
    """
    if not weights or not bonuses:
        raise ConfigError("tune needs at least one LM weight and one insertion bonus")
    vocab, decode = recognizer.vocab, recognizer.config.decode
    metric = metric or ("word" if vocab.unit == "char" else "token")
    if metric not in ("token", "word") or (metric == "word" and vocab.unit != "char"):
        raise ConfigError(f"metric must be 'token' or (for character models) 'word', got {metric!r}")
    weights = tuple(dict.fromkeys(float(w) for w in weights)) if decode.lm else ()  # no LM: no weight to tune
    bonuses = tuple(dict.fromkeys(float(b) for b in bonuses))
    refs = reference_tokens(utts, vocab, recognizer.config.data.lowercase)
    base = recognizer.decoder
    log_probs = recognizer.log_probs(utts, progress=progress)

    def scored(hyps: dict[str, list[str]], w: Optional[float], b: Optional[float]) -> EvalReport:
        report = score_tokens(refs, hyps, vocab.unit, vocab.word_boundary, sources=(f"references of {source}",
                              f"hypotheses for {source}"), interval=False, normalize=vocab.normalization,
                              known=vocab.tokens[1:])
        log.debug(f"lm_weight={w} bonus={b}: {summary_line(report.tokens, None, None)}")
        return report

    greedy_found = search_all(GreedyDecoder(), log_probs)
    greedy = scored({u.id: vocab.decode(res[0].ids) for u, res in zip(utts, greedy_found)}, None, None)
    rows = []
    for w in weights or [None]:
        for b in bonuses:
            search = base.replace(insertion_bonus=b, **({} if w is None else {"lm_weight": w}))
            try:
                found = search_all(search, log_probs)
            except ValueError as e:
                raise DataError(f"{source}: {e}") from None
            rows.append(_row(scored({u.id: vocab.decode(res[0].ids) for u, res in zip(utts, found)}, w, b), w, b))
    return TuneReport(tuple(rows), _row(greedy, None, None), RATE_NAMES.get(vocab.unit, "TER"), metric,
                      _settings(recognizer, overrides), weights, bonuses, greedy.unknown,
                      ("--adapt-norms",) if recognizer.adapt_norms else ())


def _row(report: EvalReport, w: Optional[float], b: Optional[float]) -> TuneRow:
    return TuneRow(w, b, report.tokens.total, None if report.words is None else report.words.total)


def _settings(recognizer: Recognizer, overrides: Sequence[str]) -> tuple[str, ...]:
    """decode.KEY=VALUE for the beam, LM, LM unit and lexicon in use, then the other overrides given."""
    d = recognizer.config.decode
    own = [f"decode.beam={d.beam}"]
    if d.lm:
        own += [f"decode.lm={d.lm}", f"decode.lm_unit={d.lm_unit}"]
    if d.lexicon:
        own.append(f"decode.lexicon={d.lexicon}")
    rest = [o.strip() for o in overrides if o.split("=", 1)[0].strip().removeprefix("decode.") not in _OWN]
    return tuple(own + list(dict.fromkeys(rest)))
