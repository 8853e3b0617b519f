"""Where commands write: each output place is checked before any work (no model run, no file read)
by one of two functions, so that a place that cannot be written stops the command at once with
its name and the fix, and nothing is left behind (no ``*.tmp``, no half-written output).

- ``check_output_file(path, what)``: a file to write (``--out hyp.txt``, ``--ctm``, ``--report``).
  Refused: an empty path, a folder, one of the command's inputs, a file that is not writable.
- ``check_output_dir(path, what)``: a folder to write into (``evaluate --out DIR``, ``prepare --out``).
  Refused: an empty path, an existing file.

For both, the folders above must be folders (a file on the way is refused) and the nearest one that
exists must be writable (tried by creating and removing a file there: permission bits do not bind
root, a read-only file system does). Missing folders are created when the output is written, as
``mkdir -p`` would, and a note names the first one (``seqlabel`` logs it as a warning), so that a
mistyped folder name shows.

This module sits beside ``errors`` at the bottom of the stage order, so that every stage may use it.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable, Optional

from seqlabel.errors import ConfigError

log = logging.getLogger(__name__)


def check_output_file(path: str | os.PathLike | None, what: str,
                      inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """``path`` as a Path once it is known that a file can be written there (see the module doc);
    ``what`` names the option (``--out``, ``--ctm``); ``inputs`` are the command's input files."""
    out = _given(path, what, "a file name, e.g. out.txt")
    if out.is_dir():
        raise ConfigError(f"{what} {out} is a folder; give a file name (e.g. {out / 'out.txt'})")
    if any(out.resolve() == Path(p).resolve() for p in inputs):
        raise ConfigError(f"{what} {out} is one of the inputs; writing it would destroy it: give another file name")
    _check_folder(out.parent, what, out)
    if out.exists() and not os.access(out, os.W_OK):
        raise ConfigError(f"{what} {out} is not writable (a read-only file): give another file name, or "
                          f"make it writable (chmod u+w {out})")
    return out


def check_output_dir(path: str | os.PathLike | None, what: str) -> Path:
    """``path`` as a Path once it is known that a folder can be written there (see the module doc)."""
    out = _given(path, what, "a folder name, e.g. exp/eval")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{what} {out} is a file, not a folder; give a folder name (or remove the file)")
    if out.is_dir():
        _probe(out, what, out)
    else:
        _check_folder(out.parent, what, out)
    return out


def _given(path: str | os.PathLike | None, what: str, example: str) -> Path:
    if path is None or not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ConfigError(f"{what} is {'empty' if isinstance(path, str) else f'{path!r}'}; give {example}")
    return Path(path)


def _check_folder(folder: Path, what: str, out: Path) -> None:
    """The folders above ``out``: every existing one a folder, the nearest existing one writable."""
    missing: list[Path] = []
    existing = folder
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link: mkdir would fail on it
            raise ConfigError(f"{what} {out}: {existing} is a broken link; remove it or give another place")
        missing.append(existing)
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{what} {out}: {existing} is a file, not a folder; give a path whose folders are folders "
                          f"(or remove the file {existing})")
    _probe(existing, what, out)
    if missing:
        log.warning("note: %s %s: the folder %s does not exist; it will be created", what, out, missing[-1])


def _probe(folder: Path, what: str, out: Path) -> None:
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".seqlabel-write-test-")
    except OSError as e:
        raise ConfigError(f"{what} {out}: the folder {folder} is not writable ({e.strerror}); give a place you "
                          "can write to") from None
    os.close(fd)
    os.unlink(name)


def output_files(*pairs: tuple[Optional[str | os.PathLike], str], inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Check several optional output files at once: ``(path or None, what)`` pairs, each a file of its own."""
    inputs = list(inputs)
    written: list[tuple[Path, str]] = []
    for path, what in pairs:
        if path is not None:
            out = check_output_file(path, what, inputs)
            same = next((w for p, w in written if p.resolve() == out.resolve()), None)
            if same is not None:
                raise ConfigError(f"{what} {out} is also given as {same}: one would overwrite the other; give two "
                                  "file names")
            written.append((out, what))
