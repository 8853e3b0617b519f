"""Kaldi data directories (the ``data/<name>/`` folders every Kaldi recipe writes).

``data_dir`` is Kaldi's ``data/`` folder; ``train``, ``dev`` and ``test`` name data dirs in it
(dev and test default to ``dev``/``test`` when present; "" for none). Each data dir holds::

    text       <utt> <transcript>             (kept as written; ``unit`` only shapes the statistics)
    utt2spk    <utt> <speaker>
    wav.scp    <recording> <audio file>       (source "wav"; command pipes "... |" are refused)
    segments   <utt> <recording> <start> <end>  (optional; seconds, end -1: to the end)
    feats.scp  <utt> <archive.ark>:<offset>   (source "feats": binary float/double matrices)

``source="auto"`` reads wav.scp when there is one, else feats.scp. Relative paths in the scp
files are resolved against ``path_root`` (default: the folder above ``data_dir``, where Kaldi's
scripts run). Feature frames are taken as 10 ms apart (Kaldi's default frame shift).
"""
from __future__ import annotations

from pathlib import Path

from seqlabel.corpora.common import probe_audio, require_dir, write_splits
from seqlabel.corpora.validate import Report
from seqlabel.errors import ConfigError, DataError
from seqlabel.features.precomputed import kaldi_matrix_shape, parse_ark_source
from seqlabel.textfile import iter_lines
from seqlabel.types import Utterance

SOURCES = ("auto", "wav", "feats")
UNITS = ("char", "phone", "word")
FRAME_SHIFT_S = 0.01
DEFAULT_NAMES = {"dev": "dev", "test": "test"}
PIPE_HINT = ("seqlabel reads audio files, not command pipes: run the command once per recording to write "
             "a .wav (e.g. `sph2pipe -f wav in.sph out.wav`) and list the files in wav.scp, or dump features "
             "with Kaldi and use feats.scp (-p source=feats)")


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    train: str = "train",
    dev: str | None = None,
    test: str | None = None,
    source: str = "auto",
    unit: str = "char",
    path_root: str | None = None,
) -> dict[str, Path]:
    """Write a manifest per chosen Kaldi data dir into ``out_dir``; return ``{split: path}``."""
    if source not in SOURCES:
        raise ConfigError(f"kaldi: source must be one of {SOURCES}, got {source!r}")
    if unit not in UNITS:
        raise ConfigError(f"kaldi: unit must be one of {UNITS}, got {unit!r}")
    root = require_dir(data_dir, "kaldi")
    base = Path(path_root).expanduser() if path_root else root.resolve().parent
    report = Report("kaldi")
    splits: dict[str, list[Utterance]] = {}
    for split, name in (("train", train), ("dev", dev), ("test", test)):
        folder = _data_dir(root, split, name)
        if folder is not None:
            splits[split] = read_data_dir(folder, source, base, report)
    if not splits:
        raise ConfigError("kaldi: train, dev and test are all empty; name at least one data dir")
    return write_splits(Path(out_dir), splits, unit=unit, report=report)


def read_data_dir(folder: Path, source: str, base: Path, report: Report) -> list[Utterance]:
    """Utterances of one data dir, in the order of its ``text`` file."""
    texts = read_table(folder / "text", report, allow_empty=True)
    speakers = read_table(_required(folder, "utt2spk"), report)
    if source == "auto":
        source = "wav" if (folder / "wav.scp").is_file() else "feats"
    found = _audio(folder, base, report) if source == "wav" else _features(_required(folder, "feats.scp"), base, report)
    utterances: list[Utterance] = []
    for utt_id, text in texts.items():
        if utt_id not in found:
            report.add("no-audio", utt_id, f"in {folder / 'text'}, not in the {source} tables of {folder}")
            continue
        utt = found[utt_id]
        if utt is None:
            continue  # its file was missing or unreadable: already reported
        speaker = speakers.get(utt_id)
        if speaker is None:
            report.add("no-speaker", utt_id, f"not in {folder / 'utt2spk'}")
        utterances.append(Utterance(id=utt_id, source=utt.source, text=text, speaker=speaker or utt_id,
                                    start=utt.start, end=utt.end, duration=utt.duration, num_frames=utt.num_frames))
    for utt_id in found.keys() - texts.keys():
        report.add("no-transcript", utt_id, f"not in {folder / 'text'}")
    return utterances


def read_table(path: Path, report: Report, allow_empty: bool = False) -> dict[str, str]:
    """``{key: rest of the line}`` of a Kaldi table file; a key twice goes to ``report`` (first one kept)."""
    table: dict[str, str] = {}
    for lineno, line in iter_lines(path, "a UTF-8 Kaldi table ('key value' lines)"):
        if not line.strip():
            continue
        key, _, value = line.strip().partition(" ")
        value = " ".join(value.split())
        if not value and not allow_empty:
            raise DataError(f"{path}:{lineno}: {key!r} has no value")
        if key in table:
            report.add("duplicate-id", key, f"{path}:{lineno}")
            continue
        table[key] = value
    return table


def _data_dir(root: Path, split: str, name: str | None) -> Path | None:
    """The data dir of ``split``: None when not wanted (or, for a default name, not there)."""
    if name == "":
        return None
    folder = root / (name if name is not None else DEFAULT_NAMES[split])
    if (folder / "text").is_file():
        return folder
    if name is None:
        return None
    present = sorted(p.name for p in root.iterdir() if (p / "text").is_file())
    raise DataError(f"kaldi: {folder} is not a Kaldi data dir (no 'text' file); data dirs in {root}: "
                    f"{', '.join(present) or 'none'} (choose with -p {split}=NAME)")


def _required(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise DataError(f"kaldi: {path} not found; a Kaldi data dir needs it (utils/validate_data_dir.sh)")
    return path


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _audio(folder: Path, base: Path, report: Report) -> dict[str, Utterance | None]:
    """``{utt: Utterance with source/start/end/duration}`` from wav.scp (+ segments); None: bad file."""
    wav_scp = _required(folder, "wav.scp")
    recordings: dict[str, Utterance | None] = {}
    for rec, value in read_table(wav_scp, report).items():
        if value.endswith("|") or parse_ark_source(value) is not None:
            report.add("unsupported", rec, f"{wav_scp}: {value[:80]!r}: {PIPE_HINT}")
            recordings[rec] = None
            continue
        path = _resolve(base, value)
        info = probe_audio(report, rec, path)
        recordings[rec] = None if info is None else Utterance(
            id=rec, source=str(path.resolve()), text="", duration=info.duration)
    segments_path = folder / "segments"
    if not segments_path.is_file():
        return recordings
    found: dict[str, Utterance | None] = {}
    for utt_id, value in read_table(segments_path, report).items():
        fields = value.split()
        try:
            rec, start, end = fields[0], float(fields[1]), float(fields[2])
        except (IndexError, ValueError):
            raise DataError(f"{segments_path}: line of {utt_id!r} must be '<utt> <recording> <start> <end>', "
                            f"got {value!r}") from None
        if rec not in recordings:
            found[utt_id] = None
            report.add("no-audio", utt_id, f"recording {rec!r} of {segments_path} is not in {wav_scp}")
            continue
        whole = recordings[rec]
        if whole is None:
            found[utt_id] = None
            continue
        stop = None if end < 0 else end
        duration = (stop if stop is not None else whole.duration or 0.0) - start
        if rec in report.sample_rates:
            report.sample_rates[utt_id] = report.sample_rates[rec]
        found[utt_id] = Utterance(id=utt_id, source=whole.source, text="", start=start, end=stop, duration=duration)
    return found


def _features(feats_scp: Path, base: Path, report: Report) -> dict[str, Utterance | None]:
    """``{utt: Utterance with source path.ark:offset, num_frames, duration}`` from feats.scp; None: bad entry."""
    found: dict[str, Utterance | None] = {}
    for utt_id, value in read_table(feats_scp, report).items():
        found[utt_id] = None
        entry = parse_ark_source(value)
        if entry is None:
            report.add("unsupported", utt_id, f"{feats_scp}: {value[:80]!r} is not 'archive.ark:offset'")
            continue
        archive = _resolve(base, str(entry[0]))
        if not archive.is_file():
            report.add("missing-file", str(archive), f"features of utterance {utt_id}")
            continue
        try:
            rows, _ = kaldi_matrix_shape(archive, entry[1])
        except DataError as e:
            report.add("unreadable-file", f"{archive}:{entry[1]}", str(e))
            continue
        found[utt_id] = Utterance(id=utt_id, source=f"{archive.resolve()}:{entry[1]}", text="",
                                  duration=rows * FRAME_SHIFT_S, num_frames=rows)
    return found
