"""Precomputed features: Sphinx ``.mfc`` cepstra, NumPy ``.npy`` arrays (T, F) and Kaldi archives.

Sphinx ``.mfc``: a big-endian int32 holding the number of float32 values, then that many
big-endian float32 values, ``dim`` (13 by default) per frame.

Kaldi: a source ``path.ark:offset`` (as in ``feats.scp``) names a binary matrix at byte ``offset``
of the archive: ``\0B``, the token ``FM `` (float32) or ``DM `` (float64), rows and columns each
as a size byte (4) and a little-endian int32, then the values row by row. Compressed matrices
(``CM``, ``CM2``, ``CM3``) and text archives are refused with the command that converts them.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from seqlabel.config import FeatureConfig
from seqlabel.errors import DataError
from seqlabel.features.common import add_deltas, check_finite
from seqlabel.types import Utterance

SPHINX_DIM = 13
PRECOMPUTED_SUFFIXES = (".npy", ".mfc")  # what `seqlabel transcribe` picks from folders (archives go in manifests)
KALDI_BINARY = b"\0B"
KALDI_DTYPES: dict[str, str] = {"FM": "<f4", "DM": "<f8"}  # matrix token -> element type
KALDI_COMPRESSED = ("CM", "CM2", "CM3")
KALDI_TOKEN_MAX = 8  # bytes

_ARK_SOURCE = re.compile(r"(?P<path>.+\.ark):(?P<offset>\d+)")


def parse_ark_source(source: str) -> tuple[Path, int] | None:
    """``(archive, byte offset)`` of a ``path.ark:offset`` source, or None for a plain file."""
    match = _ARK_SOURCE.fullmatch(source)
    return (Path(match["path"]), int(match["offset"])) if match else None


def kaldi_matrix_shape(path: str | Path, offset: int) -> tuple[int, int]:
    """(rows, cols) of the binary Kaldi matrix at ``offset`` of ``path``, from its header only."""
    with open(path, "rb") as f:
        f.seek(offset)
        _, rows, cols = _kaldi_header(f, f"{path}:{offset}")
    return rows, cols


def read_kaldi_matrix(path: str | Path, offset: int) -> np.ndarray:
    """(rows, cols) float32 array of the binary Kaldi matrix at ``offset`` of ``path``; errors name path:offset."""
    where = f"{path}:{offset}"
    with open(path, "rb") as f:
        f.seek(offset)
        dtype, rows, cols = _kaldi_header(f, where)
        count = rows * cols
        values = np.frombuffer(f.read(count * np.dtype(dtype).itemsize), dtype=dtype)
    if values.size != count:
        raise DataError(f"{where}: the matrix header says {rows} x {cols} but the archive ends after "
                        f"{values.size} values (truncated?)")
    return values.reshape(rows, cols).astype(np.float32)


def _kaldi_header(f: BinaryIO, where: str) -> tuple[str, int, int]:
    """Read the binary marker, type token and dimensions; return (numpy dtype, rows, cols)."""
    marker = f.read(len(KALDI_BINARY))
    if marker != KALDI_BINARY:
        raise DataError(f"{where}: not a binary Kaldi matrix (found {marker!r}, expected {KALDI_BINARY!r}); text "
                        "archives are not read: rewrite them with `copy-feats ark,t:in.ark ark,scp:out.ark,out.scp`")
    token = _read_token(f, where)
    if token in KALDI_COMPRESSED:
        raise DataError(f"{where}: compressed Kaldi matrix ({token!r}) is not supported; write uncompressed "
                        "features with `copy-feats scp:feats.scp ark,scp:feats_raw.ark,feats_raw.scp`")
    if token not in KALDI_DTYPES:
        raise DataError(f"{where}: unknown Kaldi matrix type {token!r} (expected one of {', '.join(KALDI_DTYPES)})")
    rows, cols = _read_int32(f, where), _read_int32(f, where)
    if rows < 0 or cols <= 0:
        raise DataError(f"{where}: bad matrix dimensions {rows} x {cols}")
    return KALDI_DTYPES[token], rows, cols


def _read_token(f: BinaryIO, where: str) -> str:
    """A Kaldi token: bytes up to a space."""
    token = b""
    while len(token) <= KALDI_TOKEN_MAX:
        c = f.read(1)
        if c in (b" ", b""):
            return token.decode("ascii", errors="replace")
        token += c
    raise DataError(f"{where}: no matrix type token after the binary marker (found {token!r}...)")


def _read_int32(f: BinaryIO, where: str) -> int:
    """A Kaldi binary int32: one size byte (4), then the value little-endian."""
    raw = f.read(5)
    if len(raw) != 5 or raw[0] != 4:
        raise DataError(f"{where}: bad integer in the matrix header ({raw!r}; expected size byte 4 and 4 bytes)")
    return int.from_bytes(raw[1:], "little", signed=True)


def read_sphinx_mfc(path: str | Path, dim: int = SPHINX_DIM) -> np.ndarray:
    """(T, dim) float32 array from a Sphinx feature file; errors name the file."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 4:
        raise DataError(f"{path}: too short for a Sphinx feature header")
    count = int(np.frombuffer(raw[:4], dtype=">i4")[0])
    values = np.frombuffer(raw[4:], dtype=">f4")
    if count != values.size:
        raise DataError(f"{path}: header says {count} values but the file holds {values.size} (truncated?)")
    if count % dim:
        raise DataError(f"{path}: {count} values is not a multiple of the feature dimension {dim}")
    return values.reshape(-1, dim).astype(np.float32)


class PrecomputedFeatures:
    """Reads ``.mfc``, ``.npy`` or Kaldi ``.ark:offset`` features from the manifest's ``source`` and adds deltas."""

    suffixes = PRECOMPUTED_SUFFIXES

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self.frame_rate = 1000.0 / config.frame_shift_ms
        self._base_dim = config.dim

    @property
    def dim(self) -> int:
        if self._base_dim is None:
            raise DataError("precomputed features: dimension unknown until a file is read (set features.dim)")
        return self._base_dim * (1 + self.config.deltas)

    def __call__(self, utt: Utterance) -> torch.Tensor:
        ark = parse_ark_source(utt.source)
        path = ark[0] if ark else Path(utt.source)
        if not path.is_file():
            raise DataError(f"utterance {utt.id!r}: feature file not found: {path}")
        if ark is None and path.suffix not in (".mfc", ".npy"):
            raise DataError(f"utterance {utt.id!r}: unknown precomputed feature format {path.suffix!r} "
                            "(expected .mfc, .npy or a Kaldi archive entry path.ark:offset)")
        try:
            if ark is not None:
                array = read_kaldi_matrix(*ark)
            elif path.suffix == ".mfc":
                array = read_sphinx_mfc(path, self.config.dim or SPHINX_DIM)
            else:
                array = np.load(path, allow_pickle=False)
        except DataError as e:
            raise DataError(f"utterance {utt.id!r}: {e}") from None
        except (ValueError, OSError) as e:
            raise DataError(f"utterance {utt.id!r}: cannot read features from {path}: {e}") from None
        return self.features_of_array(array, utt, str(path))

    def features_of_array(self, array: np.ndarray, utt: Utterance, where: str) -> torch.Tensor:
        """(T, F0) stored features -> (T, F0 * (1 + deltas)) float32; errors name ``utt`` and ``where``."""
        if array.ndim != 2 or array.shape[0] == 0:
            raise DataError(f"utterance {utt.id!r}: expected a non-empty (frames, dims) array in {where}, "
                            f"got shape {array.shape}")
        if self._base_dim is None:
            self._base_dim = array.shape[1]
        elif array.shape[1] != self._base_dim:
            raise DataError(f"utterance {utt.id!r}: {where} has {array.shape[1]} feature dims, expected "
                            f"{self._base_dim} (features.dim)")
        feats = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        return check_finite(add_deltas(check_finite(feats, utt), self.config.deltas), utt)
