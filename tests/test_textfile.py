"""``seqlabel.textfile``: what it reads as text (UTF-8, a byte-order mark, CRLF, .gz, text that merely starts
like a binary signature) and what it refuses (its messages are checked through the entry points in
``test_bad_input_text.py``)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from seqlabel.data.manifest import read_manifest
from seqlabel.errors import ConfigError, DataError
from seqlabel.textfile import binary_kind, iter_lines, read_lines, read_text


def test_utf8_with_bom_and_crlf_reads_as_plain_lines(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_bytes("\ufeffcafé\r\nb\n\nlast".encode("utf-8"))
    assert list(iter_lines(tmp_path / "t.txt", "a text file")) == [(1, "café"), (2, "b"), (3, ""), (4, "last")]
    assert read_text(tmp_path / "t.txt", "a text file") == "café\nb\n\nlast\n"


def test_a_manifest_saved_with_a_bom_is_read(tmp_path: Path) -> None:
    line = json.dumps({"id": "u1", "source": "a.wav", "text": "é"}, ensure_ascii=False)
    (tmp_path / "m.jsonl").write_bytes(("\ufeff" + line + "\n").encode("utf-8"))
    (utt,) = read_manifest(tmp_path / "m.jsonl")
    assert (utt.id, utt.text) == ("u1", "é")


def test_gzip_is_read_decompressed(tmp_path: Path) -> None:
    (tmp_path / "t.txt.gz").write_bytes(gzip.compress("a\nb\n".encode("utf-8")))
    assert read_lines(tmp_path / "t.txt.gz", "a text file") == ["a", "b"]


@pytest.mark.parametrize("head, kind", [
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "RIFF/WAV audio"), (b"\x89PNG\r\n\x1a\n\x00", "a PNG image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"), (b"\x93NUMPY\x01\x00v\x00", "a NumPy .npy array"),
    (b"abc\x00def", "binary data"), ("\ufeffx".encode("utf-16"), "UTF-16 text"),
    (b"RIFF is a word here\n", None), (b"ID3 tags\n", None), ("caf\u00e9".encode("latin-1"), None), (b"", None),
])
def test_binary_kind(head: bytes, kind: str | None) -> None:
    assert binary_kind(head) == kind


def test_the_error_type_and_folders(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_bytes(b"\x00\x01")
    with pytest.raises(ConfigError, match="c.yaml is not a YAML config: it holds binary data"):
        read_text(tmp_path / "c.yaml", "a YAML config", error=ConfigError)
    with pytest.raises(DataError, match="is a folder, not a text file"):
        read_text(tmp_path, "a text file")
    with pytest.raises(DataError, match="nope.txt: file not found"):
        read_text(tmp_path / "nope.txt", "a text file")


def test_a_nul_byte_after_the_first_block_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_bytes(b"x" * 9000 + b"\nok\nbad\x00line\n")
    with pytest.raises(DataError, match="is not a text file: line 3 holds a NUL byte"):
        read_lines(tmp_path / "t.txt", "a text file")
