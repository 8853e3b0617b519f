"""Cross-validation by speaker: K models trained one after the other, each with a disjoint group of
speakers held out and scored on them. The spread over folds says how much a result depends on who
is speaking, which one dev speaker cannot.

Folds (``speaker_folds``): the speakers are shuffled with the seed, then taken largest first (by
utterance count) and each given to the group with the fewest utterances so far (ties: the lower
group): groups balanced by utterance count, deterministic for a seed. K = the number of speakers is
leave-one-speaker-out. Every speaker is held out exactly once.

Manifests in ``data.extra_train`` (e.g. another corpus's speakers) join every fold's training set
and are never held out nor used as dev; they may share no speaker with the pool.

Dev set of a fold (``split_dev``), for early stopping and the learning-rate schedule: a fraction
(``dev_fraction``, default 0.1) of each training speaker's utterances, drawn with the seed, at least
one per speaker; the rest trains. Its speakers are trained on, so its error is optimistic and may
stop falling long before the held-out speakers' does (with few speakers it is near 0). With
``dev_speakers`` N > 0, N whole training speakers (drawn with the seed) form the dev set instead:
early stopping then follows unseen speakers too, at the cost of N fewer training speakers. Either
way the held-out speakers are never seen before their test, not even by early stopping.

    DIR/crossval.json      the settings; a rerun with other settings is refused
    DIR/tokens.txt         one vocabulary for every fold, from the pool's transcripts (unless data.vocab)
    DIR/fold-k/            train.jsonl, dev.jsonl, test.jsonl (the held-out speakers) and the run
                           (best.pt, log.csv, test/ with ref.txt, hyp.txt and the reports)
    DIR/fold-k/done.json   written when the fold is scored: an interrupted crossval run again
                           continues with the folds not done (a fold's run resumes from its last.pt)
    DIR/summary.json, summary.txt
"""
from __future__ import annotations

import json
import logging
import shutil
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from seqlabel.config import Config, config_from_data, to_dict
from seqlabel.data.manifest import read_manifest, speaker_of, write_manifest
from seqlabel.data.transcripts import read_kaldi_text
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, DataError
from seqlabel.scoring.evaluation import EvalReport, score_tokens
from seqlabel.scoring.significance import Interval
from seqlabel.training.folder import RunFolder
from seqlabel.training.lock import RunLock
from seqlabel.types import ErrorStats, Utterance

log = logging.getLogger(__name__)

# (config of a fold, its run folder, resume) -> anything; it must evaluate config.data.test into <run>/test/
TrainFn = Callable[[Config, Path, bool], Any]


def speaker_folds(utts: Sequence[Utterance], folds: int, seed: int) -> list[list[str]]:
    """``folds`` disjoint groups of speakers covering every speaker once, balanced by utterance count."""
    counts = Counter(speaker_of(u) for u in utts)
    if folds < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, got {folds}")
    if folds > len(counts):
        raise ConfigError(f"--folds {folds} is more than the {len(counts)} speakers of the pool "
                          f"({', '.join(sorted(counts)[:8])}{', ...' if len(counts) > 8 else ''}); use at most "
                          f"{len(counts)} (leave-one-speaker-out)")
    speakers = sorted(counts)
    np.random.default_rng(seed).shuffle(speakers)
    speakers.sort(key=lambda s: -counts[s])  # stable: equal counts keep the shuffled order
    groups: list[list[str]] = [[] for _ in range(folds)]
    sizes = [0] * folds
    for spk in speakers:
        k = min(range(folds), key=lambda g: (sizes[g], g))
        groups[k].append(spk)
        sizes[k] += counts[spk]
    return [sorted(g) for g in groups]


def split_dev(utts: Sequence[Utterance], fraction: float, seed: int,
              speakers: int = 0) -> tuple[list[Utterance], list[Utterance]]:
    """(train, dev): ``fraction`` of each speaker's utterances (at least one, not all) drawn for dev; or,
    with ``speakers`` > 0, all the utterances of that many speakers drawn for dev."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"the dev fraction must be in (0, 1), got {fraction}")
    by_speaker: dict[str, list[int]] = {}
    for i, u in enumerate(utts):
        by_speaker.setdefault(speaker_of(u), []).append(i)
    rng = np.random.default_rng(seed)
    if speakers > 0:
        if speakers >= len(by_speaker):
            raise ConfigError(f"--dev-speakers {speakers} leaves no training speaker: a fold trains on "
                              f"{len(by_speaker)} speakers; use fewer dev speakers, more folds, or --dev-speakers 0")
        chosen = {s for s in rng.permutation(sorted(by_speaker))[:speakers]}
        return ([u for u in utts if speaker_of(u) not in chosen], [u for u in utts if speaker_of(u) in chosen])
    dev: set[int] = set()
    for spk in sorted(by_speaker):
        indices = by_speaker[spk]
        take = min(max(1, round(fraction * len(indices))), len(indices) - 1)
        dev.update(indices[j] for j in rng.permutation(len(indices))[:take])
    return [u for i, u in enumerate(utts) if i not in dev], [u for i, u in enumerate(utts) if i in dev]


@dataclass(frozen=True)
class FoldResult:
    """One fold's scores on its held-out speakers."""

    fold: int  # 1-based
    speakers: tuple[str, ...]
    tokens: ErrorStats  # PER or CER
    words: Optional[ErrorStats]  # WER, for character models


@dataclass(frozen=True)
class CrossvalReport:
    folds: tuple[FoldResult, ...]
    pooled: EvalReport  # every held-out utterance of every fold, scored together (with bootstrap intervals)

    @property
    def name(self) -> str:
        return self.pooled.tokens.name

    def rates(self, words: bool = False) -> list[float]:
        return [(f.words if words else f.tokens).rate for f in self.folds]  # type: ignore[union-attr]

    def spread(self, words: bool = False) -> dict[str, float]:
        """Mean, standard deviation (n - 1) and worst of the fold rates, and the pooled rate."""
        rates = self.rates(words)
        pooled = self.pooled.words if words else self.pooled.tokens
        return {"mean": statistics.fmean(rates), "std": statistics.stdev(rates) if len(rates) > 1 else 0.0,
                "worst": max(rates), "worst_fold": self.folds[rates.index(max(rates))].fold,
                "pooled": pooled.total.rate}  # type: ignore[union-attr]

    def table(self) -> str:
        """One line per fold, then mean, standard deviation, worst fold and the pooled rates with intervals."""
        with_words = self.pooled.words is not None
        lines = [f"{'fold':>4}  {'utts':>5}  {self.name:>7}" + ("  {:>7}".format("WER") if with_words else "")
                 + "  held-out speakers"]
        for f in self.folds:
            line = f"{f.fold:>4}  {f.tokens.utterances:>5}  {100 * f.tokens.rate:6.2f}%"
            line += f"  {100 * f.words.rate:6.2f}%" if f.words is not None else ""
            lines.append(line + "  " + " ".join(f.speakers))
        for words, name, ci in ((False, self.name, self.pooled.tokens_ci), (True, "WER", self.pooled.words_ci)):
            if words and not with_words:
                continue
            s = self.spread(words)
            lines.append(f"{name}: mean {100 * s['mean']:.2f}%, std {100 * s['std']:.2f} points, worst fold "
                         f"{s['worst_fold']} {100 * s['worst']:.2f}%, pooled {100 * s['pooled']:.2f}%"
                         + (f" ({ci})" if ci is not None else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def interval(ci: Optional[Interval]) -> Optional[dict[str, float]]:
            return None if ci is None else {"low": ci.low, "high": ci.high, "level": ci.level}

        out: dict[str, Any] = {"unit": self.pooled.tokens.unit, "name": self.name, "folds": [
            {"fold": f.fold, "speakers": list(f.speakers), "tokens": {**asdict(f.tokens), "rate": f.tokens.rate},
             "words": None if f.words is None else {**asdict(f.words), "rate": f.words.rate}} for f in self.folds]}
        for key, result, ci in (("tokens", self.pooled.tokens, self.pooled.tokens_ci),
                                ("words", self.pooled.words, self.pooled.words_ci)):
            if result is not None:
                out[key] = {**self.spread(key == "words"), "pooled_errors": result.total.errors,
                            "pooled_ref_tokens": result.total.ref_tokens, "pooled_ci": interval(ci)}
        return out


def run_crossval(config: Config, out_dir: str | Path, folds: int, train: TrainFn,
                 pool: Sequence[str | Path] = (), dev_fraction: float = 0.1, dev_speakers: int = 0,
                 only: Sequence[int] = ()) -> CrossvalReport:
    """Train and score ``folds`` speaker-disjoint folds of ``pool`` (default: the config's data.train and
    data.dev manifests, never data.test) one after the other; see the module docstring. ``only``: train
    just these folds (1-based; e.g. a subset, or folds spread over machines sharing ``out_dir``); the
    report then covers every fold done so far, in this run or before."""
    out = Path(out_dir)
    manifests = [Path(p) for p in pool] or [Path(p) for p in (config.data.train, config.data.dev) if p]
    if not manifests:
        raise ConfigError("cross-validation needs utterances: set data.train (and data.dev) or pass --pool")
    utts = [u for m in manifests for u in read_manifest(m)]
    duplicates = [i for i, n in Counter(u.id for u in utts).items() if n > 1]
    if duplicates:
        raise DataError(f"the pool ({', '.join(map(str, manifests))}) holds utterance ids twice, e.g. "
                        f"{duplicates[:3]}; pass each manifest once")
    anonymous = [u for u in utts if not u.speaker]
    if anonymous and not config.data.speaker_from_id:  # an id's prefix is rarely its speaker (FSDD's: the digit)
        raise DataError(f"cross-validation holds out speakers, but {len(anonymous)} of {len(utts)} utterances of the "
                        f"pool have no `speaker` field (e.g. {anonymous[0].id!r}, whose id prefix "
                        f"{speaker_of(anonymous[0])!r} would be taken as its speaker); add a `speaker` field to every "
                        "line (`seqlabel prepare` writes it) or set data.speaker_from_id: true")
    extra = _extra_training(config, utts)
    seed = config.train.seed
    groups = speaker_folds(utts, folds, seed)
    wrong = sorted(k for k in only if not 1 <= k <= folds)
    if wrong:
        raise ConfigError(f"--fold {wrong[0]} is not a fold of {folds} (folds are numbered 1 to {folds})")
    _claim(out, {"by": "speaker", "folds": folds, "seed": seed, "dev_fraction": dev_fraction,
                 "dev_speakers": dev_speakers, "pool": [str(m.resolve()) for m in manifests],
                 "config": to_dict(config)})
    config = _with_vocab(config, [*utts, *extra], out)
    for k, held_out in enumerate(groups, 1):
        fold_dir = out / f"fold-{k}"
        chosen = not only or k in only
        if chosen and not (fold_dir / "done.json").exists():
            test = [u for u in utts if speaker_of(u) in held_out]
            rest, dev = split_dev([u for u in utts if speaker_of(u) not in held_out], dev_fraction, seed + k,
                                  dev_speakers)
            log.info(f"fold {k} of {folds}: holding out {', '.join(held_out)} ({len(test)} utterances); training on "
                 f"{len(rest)} utterances of {len({speaker_of(u) for u in rest})} speakers"
                 f"{f' (+ {len(extra)} of data.extra_train)' if extra else ''}, dev {len(dev)} "
                 f"({', '.join(sorted({speaker_of(u) for u in dev}))})")
            if fold_dir.exists():
                with RunLock(fold_dir):  # a run sharing --out trains this fold now: refused, nothing deleted
                    pass
            resume = RunFolder(fold_dir).last.exists()
            if fold_dir.exists() and not resume:
                shutil.rmtree(fold_dir)  # a fold stopped before its first checkpoint starts afresh
            paths = {name: str(write_manifest(fold_dir / f"{name}.jsonl", part).resolve())
                     for name, part in (("train", rest), ("dev", dev), ("test", test))}
            train(replace(config, data=replace(config.data, **paths)), fold_dir, resume)
            (fold_dir / "done.json").write_text(json.dumps({"fold": k, "speakers": held_out}) + "\n", encoding="utf-8")
        elif chosen:
            log.info(f"fold {k} of {folds}: done before ({fold_dir / 'done.json'})")
    # after training: every fold done by now counts, also one that another run sharing out_dir finished meanwhile
    results = [_score_fold(k, held_out, out / f"fold-{k}", config) for k, held_out in enumerate(groups, 1)
               if (out / f"fold-{k}" / "done.json").exists()]
    if len(results) < folds:
        log.info(f"the summary covers {len(results)} of {folds} folds: "
                 f"{', '.join(str(r[0].fold) for r in results)}")
    report = CrossvalReport(tuple(r[0] for r in results), _pool(results, config))
    (out / "summary.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    (out / "summary.txt").write_text(report.table() + "\n", encoding="utf-8")
    return report


def _extra_training(config: Config, utts: Sequence[Utterance]) -> list[Utterance]:
    """The utterances of ``data.extra_train``, which every fold trains on: refused if one of them, or one
    of their speakers, is also in the pool (a held-out speaker would then be trained on)."""
    extra = [u for path in config.data.extra_train for u in read_manifest(path)]
    shared_ids = {u.id for u in utts} & {u.id for u in extra}
    shared = shared_ids or {speaker_of(u) for u in utts} & {speaker_of(u) for u in extra}
    if shared:
        what = "utterance id(s)" if shared_ids else "speaker(s)"
        raise DataError(f"data.extra_train ({', '.join(config.data.extra_train)}) and the pool share {what} "
                        f"{sorted(shared)[:3]}: every fold trains on data.extra_train, so its held-out speakers "
                        "would be trained on; keep them in one place")
    return extra


def _claim(out: Path, settings: dict[str, Any]) -> None:
    """Write ``crossval.json``, or check that the folder's holds the same settings."""
    path = out / "crossval.json"
    if path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        try:  # a config written by an older seqlabel lacks keys added since: they hold their defaults
            before["config"] = to_dict(config_from_data(before.get("config")))
        except ConfigError:
            pass  # a key since removed or renamed: compared as written (and differs)
        changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
        if changed:
            raise ConfigError(f"{out} holds a cross-validation with other settings ({', '.join(changed)} differ); "
                              "rerun with the same ones to continue it, or choose another --out")
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")


def _with_vocab(config: Config, utts: Sequence[Utterance], out: Path) -> Config:
    """One vocabulary for every fold (a held-out speaker may say a token the others never do)."""
    if config.data.vocab:
        return config
    texts = [u.text.lower() if config.data.lowercase else u.text for u in utts]
    path = out / "tokens.txt"
    Vocab.build(texts, config.data.unit, config.data.word_boundary).save(path)
    return replace(config, data=replace(config.data, vocab=str(path.resolve())))


def _score_fold(k: int, held_out: list[str], fold_dir: Path, config: Config
                ) -> tuple[FoldResult, dict[str, list[str]], dict[str, list[str]]]:
    """The fold's scores, from the references and hypotheses its test evaluation wrote."""
    test = fold_dir / "test"
    if not (test / "ref.txt").exists() or not (test / "hyp.txt").exists():
        raise DataError(f"fold {k}: {test} holds no ref.txt and hyp.txt (the fold's test evaluation did not run); "
                        f"delete {fold_dir / 'done.json'} and run crossval again")
    refs, hyps = read_kaldi_text(test / "ref.txt"), read_kaldi_text(test / "hyp.txt")
    report = score_tokens(refs, hyps, config.data.unit, config.data.word_boundary, interval=False)
    words = report.words.total if report.words is not None else None
    return FoldResult(k, tuple(held_out), report.tokens.total, words), refs, hyps


def _pool(results: list[tuple[FoldResult, dict[str, list[str]], dict[str, list[str]]]], config: Config) -> EvalReport:
    refs = {u: t for _, r, _ in results for u, t in r.items()}
    hyps = {u: t for _, _, h in results for u, t in h.items()}
    return score_tokens(refs, hyps, config.data.unit, config.data.word_boundary)
