"""Transcribing files without a manifest: what ``seqlabel transcribe`` and ``api.transcribe`` run.

    paths (files, folders) -> the input files, in order (folders searched recursively, sorted,
      keeping the files whose ending the checkpoint's extractor reads; hidden names skipped)
      -> chunks of ``CHUNK_FILES`` files: features (a file that cannot be read is reported and
      skipped), normalisation, length-sorted forward batches, greedy or beam decoding
      -> Transcription records in input order, one chunk at a time

A file that cannot be read (corrupt, wrong sample rate with ``features.resample: false``) is logged
(logger ``seqlabel.inference.transcribe``, level WARNING) and comes back as a record with ``error``
set; the others are transcribed. Paths that do not exist, folders holding no file of the
checkpoint's type and files of another type are refused before the model runs.
"""
from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Iterator, Optional, Sequence

import torch
from tqdm import tqdm

from seqlabel.data.dataset import extract_features
from seqlabel.errors import DataError
from seqlabel.inference.adapt import adapted_norms
from seqlabel.inference.batch import decode_all, log_probs_all
from seqlabel.inference.recognizer import Recognizer
from seqlabel.types import Transcription, Utterance

log = logging.getLogger(__name__)

CHUNK_FILES = 256  # files whose features are held at once; output is written chunk by chunk
MANIFEST_SUFFIXES = (".jsonl", ".json")


def file_id(path: str) -> str:
    """A stable one-token id for a path: ``%``, whitespace and unprintable characters percent-encoded
    as UTF-8 bytes (``a b.wav`` -> ``a%20b.wav``), everything else kept; distinct paths give distinct ids."""
    out = []
    for ch in path:
        if ch == "%" or ch.isspace() or not ch.isprintable():
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out)


def find_inputs(paths: Sequence[str | os.PathLike], suffixes: Sequence[str], kind: str) -> list[Path]:
    """The input files of ``paths`` in order: files as given, folders searched recursively (sorted;
    names starting with a dot skipped) for files ending in ``suffixes`` (any case). A path that does
    not exist, a folder without such files, or a file of another type raises DataError naming it;
    a file found twice is kept once. ``kind`` names the checkpoint's inputs in messages."""
    wanted = tuple(s.lower() for s in suffixes)
    accepted = f"{kind} files ({', '.join(wanted)})"
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise DataError(f"not found: {', '.join(missing)} (expected {accepted} or folders of them)")
    found: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            inside = sorted(f for f in given.rglob("*") if f.suffix.lower() in wanted and f.is_file()
                            and not any(part.startswith(".") for part in f.relative_to(given).parts))
            if not inside:
                raise DataError(f"{given}: no {accepted} in this folder or below; this checkpoint reads only those")
            found.extend(inside)
        elif given.suffix.lower() in wanted:
            found.append(given)
        else:
            hint = (f"; {given} looks like a manifest: transcribe it with `seqlabel decode CHECKPOINT {given}`"
                    if given.suffix.lower() in MANIFEST_SUFFIXES else "")
            raise DataError(f"{given} is not one of this checkpoint's inputs: it reads {accepted}{hint}")
    seen: dict[Path, Path] = {}
    unique = []
    for path in found:
        key = path.resolve()
        if key in seen:
            log.warning("%s is given twice (also as %s): transcribed once", path, seen[key])
            continue
        seen[key] = path
        unique.append(path)
    return unique


def transcribe_files(recognizer: Recognizer, files: Sequence[Path], same_speaker: bool = False,
                     batch_frames: int = 50000, progress: bool = False) -> Iterator[Transcription]:
    """One Transcription per file, in order, computed ``CHUNK_FILES`` files at a time.

    With ``features.cmvn: speaker`` each file is normalised by its own statistics, or with
    ``same_speaker`` all files by their joint statistics (then all are held at once, as ``decode`` does).
    With ``recognizer.adapt_norms`` all are held at once too: the batch norms are adapted to them all.
    """
    per_speaker = recognizer.config.features.cmvn == "speaker"
    if per_speaker and not same_speaker and len(files) > 1:
        log.warning("this model normalises features per speaker (features.cmvn: speaker): each file is normalised "
                    "by its own statistics; if the files are one speaker's, --same-speaker is more accurate")
    chunk_size = len(files) if (per_speaker and same_speaker) or recognizer.adapt_norms else CHUNK_FILES
    with tqdm(total=len(files), desc="transcribe", unit="file", disable=not progress, leave=False) as bar:
        for start in range(0, len(files), max(chunk_size, 1)):
            chunk = files[start : start + chunk_size]
            yield from _transcribe_chunk(recognizer, chunk, same_speaker, batch_frames)
            bar.update(len(chunk))


def _transcribe_chunk(recognizer: Recognizer, files: Sequence[Path], same_speaker: bool,
                      batch_frames: int) -> list[Transcription]:
    ids = [file_id(str(f)) for f in files]
    utts = [Utterance(i, str(f), "", speaker="all" if same_speaker else i) for i, f in zip(ids, files)]
    raw, errors = _features(recognizer, utts)
    good = [i for i in range(len(utts)) if i not in errors]
    feats = recognizer.normalize([utts[i] for i in good], [raw[i] for i in good]) if good else []
    adapting = recognizer.adapt_norms and bool(feats)  # the files are one manuscript: batch norms adapted to all
    with adapted_norms(recognizer.model, feats, recognizer.device) if adapting else nullcontext():
        log_probs = log_probs_all(recognizer.model, feats, recognizer.device, batch_frames,
                                  amp=recognizer.config.train.amp)
    nbest = decode_all(log_probs, [utts[i].id for i in good], recognizer.vocab, recognizer.decoder,
                       recognizer.frame_seconds)
    hyps = {i: n[0] for i, n in zip(good, nbest)}
    out = []
    for i, (path, utt) in enumerate(zip(files, utts)):
        if i in errors:
            out.append(Transcription(str(path), utt.id, error=errors[i]))
        else:
            out.append(Transcription(str(path), utt.id, hyps[i], recognizer.text(hyps[i])))
    return out


def _features(recognizer: Recognizer, utts: list[Utterance]) -> tuple[list[Optional[torch.Tensor]], dict[int, str]]:
    """Raw (T, F) features of each utterance (None where unreadable) and {index: why} for those;
    extracted together, or one by one when a file of the chunk fails."""
    try:
        return list(extract_features(utts, recognizer.extractor, progress=False)), {}
    except DataError:
        pass
    feats: list[Optional[torch.Tensor]] = []
    errors: dict[int, str] = {}
    for i, utt in enumerate(utts):
        try:
            feats.append(extract_features([utt], recognizer.extractor, progress=False)[0])
        except DataError as e:
            feats.append(None)
            errors[i] = str(e).removeprefix(f"utterance {utt.id!r}: ")
            log.warning("skipped %s: %s", utt.source, errors[i])
    return feats, errors
