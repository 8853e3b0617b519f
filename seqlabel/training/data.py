"""The training run's data: manifests -> vocabulary -> features (extracted once, validated up
front) -> normalised training set and dev features, with the CMVN statistics checkpoints carry
(and, when fine-tuning, the checkpoint the run starts from: see ``training.finetune``)."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from seqlabel.config import Config
from seqlabel.config.features import AUDIO_TYPES
from seqlabel.data.dataset import SequenceDataset, Split, build_augment, load_split, normalize
from seqlabel.data.manifest import read_manifest
from seqlabel.data.vocab import Vocab
from seqlabel.errors import CheckpointError, DataError
from seqlabel.features import build_extractor
from seqlabel.features.cmvn import CmvnStats, compute_stats, speaker_groups
from seqlabel.training.finetune import InitSource, check_input_dim, feature_notes, init_record, load_init, resize_vocab
from seqlabel.types import Utterance

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainData:
    """The normalised training set and dev features, with what the checkpoints must carry."""

    vocab: Vocab
    train_split: Split
    train_set: SequenceDataset
    dev_split: Optional[Split]
    dev_feats: Optional[list[torch.Tensor]]  # each (T, F), normalised
    cmvn: Optional[CmvnStats]
    input_dim: int
    init: Optional[InitSource] = None  # the checkpoint a new fine-tuning run starts from
    init_record: Optional[dict[str, Any]] = None  # where the run started (every checkpoint records it)
    fingerprint: Optional[dict[str, Any]] = None  # of the train and dev utterances (every checkpoint records it)


def load_data(config: Config, resumed: Optional[dict], last_path: Path) -> TrainData:
    """Manifests -> features (extracted once, validated up front) -> normalised datasets."""
    tc = config.train
    train_utts = _drop_long(training_utterances(config), config)
    dev_utts = read_manifest(config.data.dev) if config.data.dev else None
    _warn_not_held_out(config, train_utts, dev_utts)
    fingerprint = {"train": _fingerprint(train_utts), "dev": _fingerprint(dev_utts) if dev_utts else None}
    if resumed is not None and resumed.get("data") not in (None, fingerprint):  # runs before it recorded none
        _refuse_other_data(resumed["data"], fingerprint, config, last_path)
    if config.features.cmvn == "speaker":  # utterances without a speaker: refused before any extraction
        for utts in (train_utts, dev_utts or []):
            speaker_groups(utts, config.data.speaker_from_id)
    init = load_init(config) if resumed is None else None
    vocab = _build_vocab(config, train_utts, resumed, last_path, init)
    extractor = build_extractor(config.features)
    train_split = load_split(train_utts, extractor, vocab, config.data.lowercase, "train features", tc.progress)
    if init is not None:
        check_input_dim(init, config, train_split.features[0].shape[1])
        for note in feature_notes(init, config):
            log.info(f"note: {note} differs from train.init_from {init.path}")
    dev_split = None
    if dev_utts is not None:
        dev_split = load_split(dev_utts, extractor, vocab, config.data.lowercase,
                               "dev features", tc.progress)
    cmvn = None
    if config.features.cmvn == "global":
        kept = resumed or (init.state if init is not None and init.state.get("cmvn") else None)
        cmvn = CmvnStats.from_state(kept["cmvn"]) if kept else compute_stats(train_split.features)
    augment = config.features.augment
    from_id = config.data.speaker_from_id
    train_set = SequenceDataset(train_split, normalize(train_split, config.features.cmvn, cmvn, from_id),
                                build_augment(extractor, config.features.cmvn, cmvn, train_split.utterances,
                                              tc.progress), tc.seed, augment.copies)
    dev_feats = normalize(dev_split, config.features.cmvn, cmvn, from_id) if dev_split else None
    input_dim = train_set.features[0].shape[1]
    copies = f" x {augment.copies} speed copies {augment.speed}" if augment.copies > 1 else ""
    log.info(f"train: {len(train_split.utterances)} utterances{copies}, {sum(train_split.lengths)} frames, {input_dim}-dim "
         f"features, {len(vocab)} classes (blank included); dev: {len(dev_split.utterances) if dev_split else 0} "
         "utterances")
    record = init_record(init, vocab) if init is not None else (resumed or {}).get("init_from")
    return TrainData(vocab, train_split, train_set, dev_split, dev_feats, cmvn, input_dim, init, record,
                     fingerprint)


def _fingerprint(utts: list[Utterance]) -> dict[str, Any]:
    """The utterances a run trains or selects on: how many, and a SHA-256 of their ids, texts and segment
    times (not the source paths: a corpus moved elsewhere is the same data)."""
    lines = "".join(f"{u.id}\t{u.text}\t{u.start}\t{u.end}\n" for u in utts)
    return {"utterances": len(utts), "sha256": hashlib.sha256(lines.encode("utf-8")).hexdigest()}


def _refuse_other_data(theirs: dict[str, Any], ours: dict[str, Any], config: Config, last_path: Path) -> None:
    """--resume on other train or dev utterances than the run's (a manifest rewritten in place, say) would
    continue the schedule, and compare dev errors, across two data sets: refused, naming what changed."""
    changed = []
    for name in ("train", "dev"):
        if ours[name] != theirs.get(name):
            now, then = ((fp or {}).get("utterances", 0) for fp in (ours[name], theirs.get(name)))
            same = " (as many, but other ids, texts or times)" if now == then else ""
            changed.append(f"data.{name} ({getattr(config.data, name)}) now gives {now} utterances, the run had "
                           f"{then}{same}")
    raise CheckpointError(f"--resume: {last_path} was trained on other data: {'; '.join(changed)}. Resume with the "
                          "manifests the run started with, or train into a new --out")


def training_utterances(config: Config) -> list[Utterance]:
    """The utterances of ``data.train`` followed by those of each ``data.extra_train`` manifest; an id
    in two of them is refused (naming both manifests), as a manifest refuses one twice."""
    utts: list[Utterance] = []
    first: dict[str, str] = {}
    for path in (config.data.train, *config.data.extra_train):
        for utt in read_manifest(path):
            if utt.id in first:
                raise DataError(f"utterance {utt.id!r} is in both {first[utt.id]} and {path} (data.train, "
                                "data.extra_train): each training utterance must come from one manifest")
            first[utt.id] = path
            utts.append(utt)
    return utts


def _warn_not_held_out(config: Config, train_utts: list[Utterance], dev_utts: Optional[list[Utterance]]) -> None:
    """Warn when training utterances (same ids) are in data.dev or data.test: the scores there are then not on
    held-out data. Training on pseudo-labels of the test set (self-training, ``seqlabel pseudolabel``) does so
    on purpose; training on its references would be a mistake that no score shows."""
    ids = {u.id for u in train_utts}
    test_utts = _test_utterances(config)
    for name, utts in (("data.dev", dev_utts), ("data.test", test_utts)):
        shared = sorted(ids & {u.id for u in utts or ()})
        if shared:
            log.warning(f"warning: {len(shared)} training utterance(s) are also in {name} (e.g. {shared[0]!r}): its "
                        "error rates are not on held-out data (intended only for pseudo-labels: self-training)")


def _test_utterances(config: Config) -> Optional[list[Utterance]]:
    """data.test's utterances, checked now (the manifest, its source files there) rather than after training."""
    if not config.data.test:
        return None
    utts = read_manifest(config.data.test)
    missing = [u for u in utts if not _source_file(u.source).is_file()]
    if missing:
        raise DataError(f"data.test {config.data.test}: {len(missing)} of {len(utts)} source file(s) not found (e.g. "
                        f"utterance {missing[0].id!r}: {missing[0].source}); the test set is evaluated after training, "
                        "so it is checked before: fix the manifest or unset data.test")
    return utts


def _source_file(source: str) -> Path:
    """The file a manifest source reads: the archive of a Kaldi ``path.ark:offset`` entry, else the path."""
    from seqlabel.features.precomputed import parse_ark_source

    ark = parse_ark_source(source)
    return ark[0] if ark else Path(source)


def _build_vocab(config: Config, train_utts: list, resumed: Optional[dict], resumed_path: Path,
                 init: Optional[InitSource]) -> Vocab:
    given = Vocab.load(config.data.vocab, config.data.unit, config.data.word_boundary) if config.data.vocab else None
    if resumed is not None:
        vocab = Vocab.from_state(resumed["vocab"])
        if given is not None and given != vocab and not resumed.get("init_from"):  # fine-tuning resized it
            raise CheckpointError(f"--resume: {resumed_path} was trained with another vocabulary ({len(vocab)} classes, "
                                  f"unit {vocab.unit}) than data.vocab {config.data.vocab} ({len(given)} classes, unit "
                                  f"{given.unit}); resume with the run's own tokens.txt or train into a new --out")
        return vocab
    if given is not None:
        return given if init is None else resize_vocab(init, given)
    texts = [u.text.lower() if config.data.lowercase else u.text for u in train_utts]
    built = Vocab.build(texts, config.data.unit, config.data.word_boundary, ids=[u.id for u in train_utts])
    return built if init is None else resize_vocab(init, built)


def _drop_long(utts: list[Utterance], config: Config) -> list[Utterance]:
    """The training utterances no longer than ``data.max_duration``; those without a ``duration`` field get
    theirs from ``start``/``end`` or the audio file's header (other inputs have none: refused)."""
    max_duration = config.data.max_duration
    if max_duration is None:
        return utts
    unknown = [u for u in utts if u.duration is None and (u.start is None or u.end is None)]
    if unknown and config.features.type not in AUDIO_TYPES:
        raise DataError(f"data.max_duration ({max_duration}s) needs each training utterance's duration, but "
                        f"{len(unknown)} of {len(utts)} utterances of {config.data.train} have no `duration` field "
                        f"(e.g. {', '.join(repr(u.id) for u in unknown[:3])}) and {config.features.type} inputs have "
                        "no duration to read: add `duration` (seconds) to the manifest, or remove data.max_duration")
    kept = [u for u in utts if _duration(u) <= max_duration]
    if unknown:
        log.info(f"data.max_duration: the durations of {len(unknown)} utterance(s) without a `duration` field were read "
             "from their audio headers")
    if len(kept) < len(utts):
        log.info(f"dropped {len(utts) - len(kept)} training utterance(s) longer than {max_duration}s (data.max_duration)")
    return kept


def _duration(utt: Utterance) -> float:
    """Seconds of ``utt``: its ``duration``, ``end - start``, or what its audio file's header says."""
    if utt.duration is not None:
        return utt.duration
    if utt.start is not None and utt.end is not None:
        return utt.end - utt.start
    from seqlabel.features.audio import audio_info  # torchaudio: audio inputs only

    try:
        return audio_info(utt.source).duration - (utt.start or 0.0)
    except DataError as e:
        raise DataError(f"utterance {utt.id!r}: {e}") from None
