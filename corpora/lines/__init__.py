"""Line images with ``.gt.txt`` transcripts: the layout of ocropus, kraken and Calamari ground truth.

Layout::

    <data_dir>/<folder>/**/<name>.gt.txt     one transcript per line image (UTF-8, one line)
    <data_dir>/<folder>/**/<name>.<ext>      its image beside it; <ext> is tried in the order
                                             bin.png, png, nrm.png, jpg, jpeg, tif, tiff, bmp
                                             (or only ``image_ext`` when given)

The top-level ``<folder>`` is the manuscript (or writer, or book) and becomes the utterance's
speaker; dev and test sets are whole folders, so no hand or manuscript is seen in training and
scored. Name them with ``test_folders`` / ``dev_folders`` ("a,b" or a list), or leave them out
and whole folders holding at least ``test_fraction`` / ``dev_fraction`` of the lines are picked
reproducibly (``seed``).

Transcripts are Unicode-normalised (``normalization``: NFC by default, NFD, NFKC, NFKD or
none), stripped, and runs of whitespace are collapsed to one space; the form used is printed
and written to ``<out_dir>/prepare.txt``. Scores are only comparable under the same form: NFD
splits precomposed letters (e with tilde) into a base letter and a combining mark, two tokens.

``<out_dir>/tokens.txt`` lists every character of every split (the codec, as ocropus and kraken
build it from all ground truth): point ``data.vocab`` at it so that a test line holding a character
never seen in training is scored, the character counting as an error, instead of refused.

Utterance ids are the path below ``data_dir`` without the suffix, ``/`` replaced by ``-``.
An empty transcript, a transcript without its image, or an image that cannot be read stops
preparation with a DataError naming the file; images without a transcript are counted and skipped.
"""
from __future__ import annotations

import logging
import unicodedata
from pathlib import Path
from typing import Sequence

from seqlabel.corpora.common import carve_by_speaker, note, parse_speakers, preview, require_dir, write_splits
from seqlabel.errors import ConfigError, DataError
from seqlabel.textfile import read_text
from seqlabel.types import Utterance

log = logging.getLogger(__name__)

GT_SUFFIX = ".gt.txt"
IMAGE_EXTS: tuple[str, ...] = (".bin.png", ".png", ".nrm.png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
NORMALIZATIONS: tuple[str, ...] = ("NFC", "NFD", "NFKC", "NFKD", "none")


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    test_folders: str | Sequence[str] | None = None,
    dev_folders: str | Sequence[str] | None = None,
    test_fraction: float = 0.15,
    dev_fraction: float = 0.1,
    normalization: str = "NFC",
    image_ext: str | None = None,
    seed: int = 0,
) -> dict[str, Path]:
    """Write train/dev/test manifests into ``out_dir``, split by top-level folder; return ``{split: path}``.

    Folders not named are picked at random (``seed``) until they hold the given fractions of the lines;
    naming ``test_folders`` (or ``dev_folders``) turns the matching fraction off. "" holds none out.
    """
    check_normalization(normalization, "lines")
    for name, value in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"lines: {name} must lie in [0, 1), got {value!r}")
    root = require_dir(data_dir, "lines")
    utterances = discover(root, normalization, image_ext)
    folders = sorted({u.speaker for u in utterances})
    test = parse_speakers(test_folders)
    dev = parse_speakers(dev_folders)
    unknown = (set(test) | set(dev)) - set(folders)
    if unknown:
        raise ConfigError(f"lines: unknown folder(s) {preview(unknown)}; folders here: {preview(folders, 20)}")
    if set(test) & set(dev):
        raise ConfigError(f"lines: folder(s) {preview(set(test) & set(dev))} are in both test_folders and dev_folders")

    named = set(test) | set(dev)
    pool = [u for u in utterances if u.speaker not in named]
    fractions = [0.0 if test_folders is not None else test_fraction, 0.0 if dev_folders is not None else dev_fraction]
    if sum(fractions) >= 1.0:
        raise ConfigError(f"lines: test_fraction + dev_fraction must be below 1, got {sum(fractions):g}")
    if not pool:
        raise ConfigError(f"lines: holding out {preview(named, 20)} leaves no folder for training")
    scale = len(utterances) / len(pool)  # fractions are of all lines, the pool excludes named folders
    try:
        picked_test, picked_dev, train = carve_by_speaker(pool, [min(f * scale, 0.99) for f in fractions], seed)
    except DataError:
        raise DataError(f"lines: {len(folders)} top-level folder(s) under {root} are too few for a folder-disjoint "
                        f"split (test_fraction {test_fraction}, dev_fraction {dev_fraction}); name test_folders / "
                        "dev_folders, or lower the fractions") from None
    test_utts = [u for u in utterances if u.speaker in set(test)] + picked_test
    dev_utts = [u for u in utterances if u.speaker in set(dev)] + picked_dev
    splits = {"train": train, "dev": dev_utts, "test": test_utts}
    lines = [f"lines: {root}, Unicode normalization {normalization}, split by top-level folder (seed {seed})"]
    for name, utts in splits.items():
        lines.append(f"{name} folders ({len(utts)} lines): {', '.join(sorted({u.speaker for u in utts})) or '-'}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "prepare.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    log.info("\n".join(lines))
    write_codec(out_dir, splits, "lines")
    return write_splits(out_dir, splits)


def write_codec(out_dir: Path, splits: dict[str, Sequence[Utterance]], recipe: str,
                word_boundary: str = "|") -> Path | None:
    """``out_dir/tokens.txt``: the characters of all splits (blank first); None, with a note, when a
    transcript holds the word-boundary token."""
    from seqlabel.data.vocab import Vocab
    from seqlabel.errors import VocabError

    try:
        every = [u for utts in splits.values() for u in utts]
        vocab = Vocab.build([u.text for u in every], "char", word_boundary, ids=[u.id for u in every])
    except VocabError as e:
        note(f"{recipe}: tokens.txt not written ({e}); build the vocabulary from training data instead")
        return None
    path = Path(out_dir) / "tokens.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    vocab.save(path)
    return path


def check_normalization(normalization: str, recipe: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"{recipe}: normalization must be one of {list(NORMALIZATIONS)}, got {normalization!r}")


def normalize_text(text: str, normalization: str = "NFC") -> str:
    """Unicode normal form (or none), then whitespace runs collapsed to one space and the ends stripped."""
    if normalization != "none":
        text = unicodedata.normalize(normalization, text)
    return " ".join(text.split())


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header; DataError naming the file if it is unreadable or empty."""
    from PIL import Image, UnidentifiedImageError  # lazy: only image recipes need Pillow

    try:
        with Image.open(path) as im:
            width, height = im.size
    except FileNotFoundError:
        raise DataError(f"image file not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"cannot read image {path}: {e}") from None
    if width == 0 or height == 0:
        raise DataError(f"image {path} is empty ({width}x{height} pixels)")
    return width, height


def find_image(gt: Path, image_ext: str | None = None) -> Path:
    """The image beside transcript ``gt`` (``<name>.gt.txt``); DataError naming ``gt`` if there is none."""
    stem = gt.name[: -len(GT_SUFFIX)]
    exts = (image_ext,) if image_ext else IMAGE_EXTS
    for ext in exts:
        candidate = gt.with_name(stem + ext)
        if candidate.is_file():
            return candidate
    raise DataError(f"lines: transcript {gt} has no image beside it (looked for {stem}{{{','.join(exts)}}})")


def read_transcript(gt: Path, normalization: str) -> str:
    text = normalize_text(read_text(gt, "a UTF-8 line transcript (.gt.txt)"), normalization)
    if not text:
        raise DataError(f"lines: transcript {gt} is empty")
    return text


def discover(root: Path, normalization: str = "NFC", image_ext: str | None = None) -> list[Utterance]:
    """Every (image, transcript) pair below ``root``, sorted by path; speaker = top-level folder."""
    if image_ext is not None and not image_ext.startswith("."):
        image_ext = "." + image_ext
    found: list[Utterance] = []
    images: set[Path] = set()
    for gt in sorted(root.rglob("*" + GT_SUFFIX)):
        image = find_image(gt, image_ext)
        image_size(image)
        images.add(image.resolve())
        rel = gt.relative_to(root)
        folder = rel.parts[0] if len(rel.parts) > 1 else ""
        utt_id = str(rel)[: -len(GT_SUFFIX)].replace("\\", "/").replace("/", "-").replace(" ", "_")
        found.append(Utterance(id=utt_id, source=str(image.resolve()), text=read_transcript(gt, normalization),
                               speaker=folder))
    if not found:
        raise DataError(f"lines: no *{GT_SUFFIX} transcripts under {root}")
    exts = (image_ext,) if image_ext else IMAGE_EXTS
    orphans = [p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(exts)
               and p.resolve() not in images and not _is_sibling_variant(p, images)]
    if orphans:
        note(f"lines: {len(orphans)} image(s) have no {GT_SUFFIX} transcript, skipped: "
             f"{preview([str(p.relative_to(root)) for p in orphans])}")
    if any(not u.speaker for u in found):
        note(f"lines: {sum(not u.speaker for u in found)} line(s) lie directly in {root}, not in a folder: "
             "they form one group named ''")
    return found


def _is_sibling_variant(path: Path, used: set[Path]) -> bool:
    """True for another rendering of a used line (``x.nrm.png`` beside the used ``x.bin.png``)."""
    name = path.name.lower()
    for ext in sorted(IMAGE_EXTS, key=len, reverse=True):
        if name.endswith(ext):
            stem = path.name[: -len(ext)]
            return any(path.with_name(stem + other).resolve() in used for other in IMAGE_EXTS)
    return False
