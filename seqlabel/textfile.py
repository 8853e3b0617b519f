"""Reading the text files users hand us (manifests, Kaldi text, vocabularies, YAML configs, ARPA LMs,
lexicons, transcripts) through one door, so that a binary file or another encoding given where text
is expected ends in one clear message naming the file and what was expected, never a
``UnicodeDecodeError`` traceback or silently wrong data.

Text is UTF-8; a leading byte-order mark is accepted and dropped. Binary content is recognised by a
NUL byte or by the signature of a common audio, image or archive format, and named in the message
("it holds binary data (RIFF/WAV audio)"). UTF-16 text (what some Windows editors save) is named as
such, with the fix. ``.gz`` files are read decompressed.

This module sits beside ``errors`` at the bottom of the stage order, so that ``config`` may use it too.
"""
from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import Iterator

from seqlabel.errors import DataError, SeqlabelError

HEAD_BYTES = 8192  # bytes looked at for a binary signature or NUL before reading lines
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
SIGNATURES: tuple[tuple[bytes, str], ...] = (  # leading bytes of formats people hand us by mistake
    (b"RIFF", "RIFF/WAV audio"), (b"fLaC", "FLAC audio"), (b"NIST_1A", "NIST SPHERE audio"), (b"OggS", "Ogg audio"),
    (b"ID3", "MP3 audio"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"), (b"\x93NUMPY", "a NumPy .npy array"), (b"PK\x03\x04", "a zip archive (.npz, .pt)"),
    (b"\x1f\x8b", "gzip-compressed data"), *((bytes([0x80, v]), "a Python pickle") for v in range(2, 6)),
    (b"SQLite format 3", "an SQLite database"),
    (b"%PDF", "a PDF document"),
)


def binary_kind(head: bytes) -> str | None:
    """What a file's first bytes say it is when it is not text: "UTF-16 text", a format name
    (``SIGNATURES``) or "binary data"; None when it may be text. Binary means a NUL byte, or a
    known signature followed by bytes that are not UTF-8 (a text file may start with "RIFF")."""
    if head.startswith(UTF16_BOMS):
        return "UTF-16 text"
    named = next((name for magic, name in SIGNATURES if head.startswith(magic)), None)
    if b"\0" in head or (named is not None and not _utf8_prefix(head)):
        return named or "binary data"
    return None


def _utf8_prefix(data: bytes) -> bool:
    """Whether ``data`` is UTF-8, allowing a character cut off at its end."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.reason == "unexpected end of data" and e.start >= len(data) - 3
    return True


def iter_lines(path: str | os.PathLike, what: str, hint: str = "",
               error: type[SeqlabelError] = DataError) -> Iterator[tuple[int, str]]:
    """(line number from 1, line without its line ending) of a UTF-8 text file, streamed.

    ``what`` names what the file should be ("a UTF-8 JSONL manifest"); ``hint`` is added to the
    messages (e.g. the command that reads what the user probably meant). A missing or unreadable
    file, binary content or bytes that are not UTF-8 raise ``error`` naming the file (and line).
    """
    path = Path(path)
    with _open(path, what, error) as f:
        try:
            _check_head(path, f.peek(HEAD_BYTES)[:HEAD_BYTES], what, hint, error)
            for lineno, raw in enumerate(f, 1):
                if lineno == 1 and raw.startswith(UTF8_BOM):
                    raw = raw[len(UTF8_BOM):]
                if b"\0" in raw:
                    raise error(f"{path} is not {what}: line {lineno} holds a NUL byte (binary data){_tail(hint)}")
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise error(_not_utf8(path, lineno, raw, e, what, hint)) from None
                yield lineno, line.rstrip("\r\n")
        except (OSError, EOFError, zlib.error) as e:  # a damaged .gz, a read error
            raise error(f"cannot read {path} ({e}); expected {what}") from None


def read_text(path: str | os.PathLike, what: str, hint: str = "", error: type[SeqlabelError] = DataError) -> str:
    """The whole text of a UTF-8 file (lines joined with ``\\n``), checked as ``iter_lines`` checks it."""
    return "".join(line + "\n" for _, line in iter_lines(path, what, hint, error))


def read_lines(path: str | os.PathLike, what: str, hint: str = "",
               error: type[SeqlabelError] = DataError) -> list[str]:
    """The lines of a UTF-8 text file, line endings removed (see ``iter_lines``)."""
    return [line for _, line in iter_lines(path, what, hint, error)]


def _open(path: Path, what: str, error: type[SeqlabelError]) -> io.BufferedIOBase:
    """The file opened for bytes (decompressed for ``.gz``), with ``peek``."""
    if path.is_dir():
        raise error(f"{path} is a folder, not {what}")
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise error(f"{path}: file not found (expected {what})") from None
    except OSError as e:
        raise error(f"cannot read {path} ({e.strerror}); expected {what}") from None
    return gzip.GzipFile(fileobj=raw, mode="rb") if path.suffix == ".gz" else raw


def _check_head(path: Path, head: bytes, what: str, hint: str, error: type[SeqlabelError]) -> None:
    kind = binary_kind(head)
    if kind == "UTF-16 text":
        raise error(f"{path} is UTF-16 text; expected {what}: save it as UTF-8 (e.g. "
                    f"`iconv -f UTF-16 -t UTF-8 {path.name} > {path.stem}.utf8{path.suffix}`){_tail(hint)}")
    if kind is not None:
        detail = "NUL bytes" if kind == "binary data" else kind
        raise error(f"{path} is not {what}: it holds binary data ({detail}){_tail(hint)}")


def _not_utf8(path: Path, lineno: int, raw: bytes, e: UnicodeDecodeError, what: str, hint: str) -> str:
    byte = raw[e.start : e.start + 1].hex()
    return (f"{path} is not UTF-8 text (line {lineno}, column {e.start + 1}: byte 0x{byte}); expected {what}: "
            f"convert it, e.g. `iconv -f LATIN1 -t UTF-8 {path.name} > {path.stem}.utf8{path.suffix}`{_tail(hint)}")


def _tail(hint: str) -> str:
    return f"; {hint}" if hint else ""
