"""Where ``seqlabel transcribe`` writes: a transcript stream in one of ``FORMATS`` and optionally a CTM,
one record at a time (flushed after each, so an interrupted run keeps what it has done).

    text    path<TAB>transcript
    kaldi   id tok tok ...                       (Kaldi ``text``, as ``seqlabel decode`` writes)
    jsonl   {"path", "id", "text", "tokens", "score", "confidence",
             "words": [{"word", "start", "end", "confidence"}, ...]}   (words: character models)

Times are seconds (output frames x ``frame_seconds``); for image and stroke models a "second" is
``features.frame_shift_ms`` per pixel column or resampled point, not time. Files that could not be
read are not written (they are logged, and the command's exit status says so).

``write_nbest``: ``seqlabel decode --nbest-out``'s TSV of n-best lists.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import Optional, Sequence, TextIO

from seqlabel.data.vocab import Vocab
from seqlabel.decoders.ctm import ctm_entries, format_ctm
from seqlabel.errors import ConfigError
from seqlabel.outputs import check_output_file
from seqlabel.types import Hypothesis, Transcription

FORMATS = ("text", "kaldi", "jsonl")


def format_record(t: Transcription, fmt: str, vocab: Vocab) -> str:
    """One transcription as a line of ``fmt`` (with its newline); "" for a file that failed."""
    hyp = t.hypothesis
    if hyp is None:
        return ""
    if fmt == "text":
        return f"{t.path}\t{t.text}\n"
    if fmt == "kaldi":
        return " ".join([t.id, *hyp.tokens]) + "\n"
    if fmt != "jsonl":
        raise ConfigError(f"output format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    words = ([{"word": e.token, "start": round(e.start, 3), "end": round(e.start + e.duration, 3),
               "confidence": round(e.confidence, 4)}
              for e in ctm_entries(hyp, level="word", word_boundary=vocab.word_boundary)]
             if vocab.unit == "char" else [])
    record = {"path": t.path, "id": t.id, "text": t.text, "tokens": list(hyp.tokens), "score": round(hyp.score, 4),
              "confidence": None if hyp.confidence is None else round(hyp.confidence, 4), "words": words}
    return json.dumps(record, ensure_ascii=False) + "\n"


def write_nbest(path: str | os.PathLike, nbest: Sequence[Sequence[Hypothesis]]) -> Path:
    """id, rank, score, acoustic score, LM score, confidence, tokens: one TSV line per hypothesis."""
    def num(x: Optional[float]) -> str:
        return "" if x is None else f"{x:.4f}"

    lines = ["id\trank\tscore\tacoustic\tlm\tconfidence\ttokens"]
    for hyps in nbest:
        for rank, h in enumerate(hyps, 1):
            lines.append(f"{h.id}\t{rank}\t{h.score:.4f}\t{num(h.acoustic_score)}\t{num(h.lm_score)}\t"
                         f"{num(h.confidence)}\t{' '.join(h.tokens)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class TranscriptWriter:
    """Writes transcriptions to a stream or file (``out``; None: nowhere) and a CTM file (``ctm``).

    Files are opened on construction, so that an output that cannot be written stops the command
    before the model runs; a path that is one of the ``inputs`` or a folder is refused.
    """

    def __init__(self, out: str | os.PathLike | TextIO | None, fmt: str, vocab: Vocab,
                 ctm: str | os.PathLike | None = None, ctm_level: str = "token", inputs: tuple[Path, ...] = ()) -> None:
        if fmt not in FORMATS:
            raise ConfigError(f"output format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.fmt, self.vocab, self.ctm_level = fmt, vocab, ctm_level
        self._owned: list[TextIO] = []
        self.out = out if out is None or hasattr(out, "write") else self._open(Path(out), "--out", inputs)  # type: ignore[arg-type]
        self.ctm = None if ctm is None else self._open(Path(ctm), "--ctm", inputs)

    def _open(self, path: Path, option: str, inputs: tuple[Path, ...]) -> TextIO:
        check_output_file(path, option, inputs)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            f = path.open("w", encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{option} {path} is not writable: {e.strerror}") from None
        self._owned.append(f)
        return f

    def write(self, t: Transcription) -> None:
        if t.hypothesis is None:
            return
        if self.out is not None:
            self.out.write(format_record(t, self.fmt, self.vocab))
        if self.ctm is not None:
            hyp = t.hypothesis
            self.ctm.write(format_ctm(ctm_entries(hyp, level=self.ctm_level, word_boundary=self.vocab.word_boundary)))
        self.flush()  # an interrupted run keeps every transcript written so far

    def flush(self) -> None:
        for f in (self.out, self.ctm):
            if f is not None:
                f.flush()

    def close(self) -> None:
        self.flush()
        for f in self._owned:
            f.close()

    def __enter__(self) -> "TranscriptWriter":
        return self

    def __exit__(self, kind: Optional[type[BaseException]], value: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()
