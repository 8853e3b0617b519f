"""Build the static HTML report of one evaluation folder, or of two (comparison mode).

    report/index.html        summary, speakers, confusions, histogram, the utterance table and the
                             utterance view (one page; ``#utt=ID`` opens an utterance)
    report/assets/           report.css, report.js (plain CSS and JavaScript, no libraries)
    report/data/chunk-*.js   per-utterance details loaded when an utterance is opened
    report/media/            with copy_media: the audio / images, converted where browsers need it

With ``single_file`` everything is inside index.html. No file is fetched from the network when
the report is viewed, and it opens from disk (file://): data travels in <script> elements, not
fetch(), which browsers refuse on file:// URLs.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Sequence

from seqlabel.data.manifest import read_manifest, speaker_of
from seqlabel.errors import ConfigError, DataError
from seqlabel.scoring.html.folder import EvalFolder, load_folder
from seqlabel.scoring.html.media import Media, MediaPlanner, media_kind, stroke_points
from seqlabel.scoring.html.payload import (
    CHUNK,
    MIN_POSTERIOR,
    System,
    change_counts,
    comparison_row,
    confusion_tables,
    detail_chunks,
    durations,
    histogram,
    rate_block,
    script_json,
    speaker_rows,
    table_data,
)
from seqlabel.scoring.metrics import ScoreResult
from seqlabel.scoring.significance import METHODS, compare
from seqlabel.types import Utterance

log = logging.getLogger(__name__)
_PACKAGE = Path(__file__).parent


@dataclass(frozen=True)
class ReportOptions:
    copy_media: bool = False  # copy (and convert) audio/images into report/media
    single_file: bool = False  # everything in index.html (media as data: URIs when copied)
    method: str = "mapsswe"  # significance test of the comparison: mapsswe | bootstrap
    title: Optional[str] = None
    word_boundary: Optional[str] = None  # for folders without evaluation.json (default "|")


def build_report(folders: Sequence[str | Path], out_dir: str | Path, manifest: Optional[str | Path] = None,
                 options: ReportOptions = ReportOptions()) -> Path:
    """Write the report of one evaluation folder (or two: B compared with A) to ``out_dir``; returns index.html."""
    if not 1 <= len(folders) <= 2:
        raise ConfigError(f"a report shows one evaluation folder or compares two, got {len(folders)}")
    if options.method not in METHODS:
        raise ConfigError(f"unknown comparison method {options.method!r}; choose one of {list(METHODS)}")
    loaded = [load_folder(f, options.word_boundary) for f in folders]
    out = Path(out_dir)
    if any(out.resolve() == f.path.resolve() for f in loaded):
        raise ConfigError(f"the report would overwrite the evaluation folder {out}; write it to e.g. {out / 'report'}")
    utts, source = _manifest(loaded[0], manifest)
    systems = _systems(loaded)
    ids = [u.id for u in systems[0].tokens.utterances]
    speakers = {i: speaker_of(utts[i]) if i in utts else speaker_of(Utterance(i, "", "")) for i in ids}
    _prepare(out)
    features = loaded[0].info.features
    planner = MediaPlanner(out, features, options.copy_media, options.copy_media and options.single_file, bool(utts))
    media = [planner.plan(k, utts.get(i)) for k, i in enumerate(ids)]
    strokes = [_strokes(utts.get(i)) if m.kind == "strokes" else None for i, m in zip(ids, media)]
    data = table_data(systems, speakers, durations(ids, utts, systems[0].posteriors), media,
                      loaded[0].info.word_boundary)
    chunks = detail_chunks(systems, strokes)
    context = _context(loaded, systems, speakers, media, options, source)
    data.update(mode=context["mode"], unit=systems[0].tokens.unit, chunkSize=CHUNK, chunks=len(chunks),
                rateName=context["systems"][0]["tokens"]["name"], speakerLabel=context["speaker_label"],
                wordRateName=None if systems[0].words is None else "WER",
                labels=[s.label for s in systems], minPosterior=MIN_POSTERIOR)
    index = _render(out, context, data, chunks, options.single_file)
    log.info("wrote %s (%d utterances%s)", index, len(ids), f", {planner.copied} media files" if planner.copied else "")
    return index


def _manifest(folder: EvalFolder, manifest: Optional[str | Path]) -> tuple[dict[str, Utterance], str]:
    """The evaluated utterances by id, and where they came from (for the report's notes)."""
    if manifest is None and folder.info.manifest:
        if not Path(folder.info.manifest).is_file():
            log.warning("%s names the manifest %s, which is gone: no media or manifest speakers (pass --manifest)",
                        folder.path / "evaluation.json", folder.info.manifest)
            return {}, ""
        manifest = folder.info.manifest
    if manifest is None:
        return {}, ""
    utts = {u.id: u for u in read_manifest(manifest)}
    missing = [u.id for u in folder.report.tokens.utterances if u.id not in utts]
    if len(missing) == len(folder.report.tokens.utterances):
        raise DataError(f"none of the utterances of {folder.path / 'ref.txt'} is in {manifest} (e.g. {missing[:3]}): "
                        "pass the manifest that was evaluated with --manifest")
    return utts, str(manifest)


def _systems(loaded: Sequence[EvalFolder]) -> list[System]:
    """Systems in the first folder's utterance order; a second must hold the same utterances and references."""
    order = [u.id for u in loaded[0].report.tokens.utterances]
    out = []
    for f in loaded:
        r = f.report
        tokens, words = _reorder(r.tokens, order, f), None if r.words is None else _reorder(r.words, order, f)
        if out:
            for a, b in zip(out[0].tokens.utterances, tokens.utterances):
                if a.ref != b.ref:
                    raise DataError(f"utterance {a.id!r}: {f.path} was scored against other references than "
                                    f"{loaded[0].path}; compare evaluations of the same test set")
            if tokens.unit != out[0].tokens.unit or r.folding != out[0].folding:
                raise DataError(f"{f.path} scores {tokens.unit}s (folding {r.folding}), {loaded[0].path} "
                                f"{out[0].tokens.unit}s (folding {out[0].folding}): compare like with like")
        details = {"folder": str(f.path), "checkpoint": f.info.checkpoint or "", "decoder": f.info.decoder or ""}
        out.append(System(f.label, tokens, words, r.tokens_ci, r.words_ci, r.folding, f.posteriors, details))
    if len(out) == 2 and out[0].label == out[1].label:
        out[1] = replace(out[1], label=str(loaded[1].path))
        out[0] = replace(out[0], label=str(loaded[0].path))
    return out


def _reorder(result: ScoreResult, order: list[str], folder: EvalFolder) -> ScoreResult:
    by_id = {u.id: u for u in result.utterances}
    if set(by_id) != set(order):
        only = sorted(set(by_id) ^ set(order))
        raise DataError(f"{folder.path} holds other utterances than the first folder (e.g. {only[:3]}): compare "
                        "evaluations of the same test set")
    return ScoreResult(result.unit, result.total, tuple(by_id[i] for i in order))


def _strokes(utt: Optional[Utterance]) -> Optional[list[list[int]]]:
    if utt is None or not Path(utt.source).is_file():
        return None
    try:
        return stroke_points(utt.source)
    except DataError as e:
        log.warning("utterance %s: strokes not shown: %s", utt.id, e)
        return None


def _prepare(out: Path) -> None:
    """An empty place for the report: the folders a previous build wrote are replaced, nothing else touched."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("assets", "data", "media"):
        if (out / name).is_dir():
            shutil.rmtree(out / name)


def _context(loaded: Sequence[EvalFolder], systems: Sequence[System], speakers: dict[str, str],
             media: Sequence[Media], options: ReportOptions, source: str) -> dict[str, Any]:
    kind = media_kind("", loaded[0].info.features) if loaded[0].info.features else \
        next((m.kind for m in media if m.kind not in ("none", "unknown")), "none")
    notes = []
    if not source:
        notes.append("No manifest: speakers are the utterance ids' prefixes, and the inputs are not shown "
                     "(build with --manifest).")
    notes += [f"{f.label}: {f.unknown_note}" if len(loaded) > 1 else f.unknown_note for f in loaded if f.unknown_note]
    missing = sum(1 for m in media if m.note.startswith("file not found"))
    if missing:
        notes.append(f"{missing} input file(s) not found (see each utterance).")
    ctx: dict[str, Any] = {
        "mode": "compare" if len(systems) == 2 else "single",
        "title": options.title or ("seqlabel evaluation: " + " vs ".join(s.label for s in systems)),
        "speaker_label": "Speaker" if kind in ("audio", "none") else "Writer",
        "manifest": source, "notes": notes,
        "systems": [{"label": s.label, **s.details, "tokens": rate_block(s.tokens, s.folding, s.tokens_ci),
                     "words": None if s.words is None else rate_block(s.words, None, s.words_ci),
                     "confusions": confusion_tables(s.tokens), "histogram": histogram(s.tokens)} for s in systems],
        "speakers": speaker_rows(systems, speakers),
    }
    if len(systems) == 2:
        a, b = systems
        tests = [comparison_row(compare(a.tokens, b.tokens, options.method), a.folding)]
        if a.words is not None and b.words is not None:
            tests.append(comparison_row(compare(a.words, b.words, options.method)))
        ctx["comparisons"] = tests
        ctx["changes"] = change_counts(a.tokens, b.tokens)
    return ctx


def _render(out: Path, context: dict[str, Any], data: dict[str, Any], chunks: list[dict[str, Any]],
            single_file: bool) -> Path:
    import jinja2  # lazy: only the report needs it

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_PACKAGE / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    static = _PACKAGE / "static"
    inline = {}
    if single_file:
        inline = {"css": (static / "report.css").read_text(encoding="utf-8"),
                  "js": (static / "report.js").read_text(encoding="utf-8").replace("</", "<\\/")}
        chunk_json = [script_json(c) for c in chunks]
    else:
        (out / "assets").mkdir()
        for name in ("report.css", "report.js"):
            shutil.copyfile(static / name, out / "assets" / name)
        if chunks:
            (out / "data").mkdir()
        for k, chunk in enumerate(chunks):
            (out / "data" / f"chunk-{k:04d}.js").write_text(f"SEQ_CHUNK({k},{script_json(chunk)});\n",
                                                              encoding="utf-8")
        chunk_json = []
    html = env.get_template("report.html.j2").render(**context, data_json=script_json(data), inline=inline,
                                                     chunk_json=chunk_json)
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index
